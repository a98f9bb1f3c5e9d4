import Cluster

/// A cluster-bus frame as a peer (or anyone who can reach the bus port) sends it: decoded
/// with Redis's length checks; a frame that decodes encodes again to one that decodes to
/// the same bytes. The same input as text is a nodes.conf, which the node reads at start.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBusMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? BusMessage.decode(bytes) {
        let encoded = message.encoded()
        guard let again = try? BusMessage.decode(encoded) else {
            fatalError("a decoded message encodes to a frame that does not decode")
        }
        precondition(again.encoded() == encoded, "encoding is not stable across a round trip")
    }
    _ = try? ClusterState.load(configText: String(decoding: bytes, as: UTF8.self))
    return 0
}
