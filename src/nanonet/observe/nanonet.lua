-- Wireshark dissector for nanonet tunnel messages: pcapng link type 147
-- (LINKTYPE_USER0), as `nanonet tap` writes them. One interface per tunnel,
-- named after it; one packet per message, the payload exactly as it sat in
-- the ring; the message's ring counter in the packet's epb_packetid option.
--
-- Use it once:   tshark -X lua_script:$(nanonet tap --dissector) -r capture.pcapng -V
-- Install it:    mkdir -p ~/.local/lib/wireshark/plugins &&
--                cp "$(nanonet tap --dissector)" ~/.local/lib/wireshark/plugins/
-- Filter on:     nanonet.tunnel == "raw", nanonet.sequence > 1000, nanonet.stream == 7

local proto = Proto("nanonet", "nanonet tunnel message")

local f_tunnel = ProtoField.string("nanonet.tunnel", "Tunnel")
local f_sequence = ProtoField.uint64("nanonet.sequence", "Sequence (ring counter)")
local f_length = ProtoField.uint32("nanonet.length", "Length")
local f_stream = ProtoField.uint32("nanonet.stream", "Stream id (first 4 bytes, little-endian)")
local f_payload = ProtoField.bytes("nanonet.payload", "Payload")
proto.fields = { f_tunnel, f_sequence, f_length, f_stream, f_payload }

-- what the capture file says about each packet (the frame dissector fills them)
local interface_name = Field.new("frame.interface_name")
local packet_id = Field.new("frame.packet_id")

function proto.dissector(tvb, pinfo, tree)
  local length = tvb:len()
  local name = interface_name()
  local id = packet_id()
  local tunnel = name and tostring(name.value) or "?"
  pinfo.cols.protocol = "nanonet"
  local node = tree:add(proto, tvb())
  node:add(f_tunnel, tunnel):set_generated()
  if id then
    node:add(f_sequence, id.value):set_generated()
  end
  node:add(f_length, length):set_generated()
  if length >= 4 then
    node:add_le(f_stream, tvb(0, 4))
  end
  if length > 0 then
    node:add(f_payload, tvb())
  end
  pinfo.cols.info = string.format("%s #%s, %d bytes", tunnel, id and tostring(id.value) or "?",
                                  length)
  return length
end

-- wtap_encaps is Wireshark 3.6 onwards; wtap the older name of the same table
local encaps = wtap_encaps or wtap
DissectorTable.get("wtap_encap"):add(encaps.USER0, proto)
