/* producer.c: sends the words of one sentence to "words", one message each,
 * then closes "words" (the counter reads to the close). */
#include <nanonet.h>

static const char TEXT[] = "tiny services talk through memory tunnels without syscalls";

int run(void) {
    int32_t words = NN_TUNNEL("words");
    if (words < 0) return words;
    uint32_t start = 0;
    for (uint32_t i = 0; i <= sizeof TEXT - 1; i++) {
        if (i < sizeof TEXT - 1 && TEXT[i] != ' ') continue;
        int32_t r = nn_send(words, TEXT + start, i - start);
        if (r < 0) return r;
        start = i + 1;
    }
    return nn_close(words);
}
