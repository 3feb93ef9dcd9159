// The same floor program under Swift's statically linked runtime; built with
// -D ESSENTIALS it also decodes JSON and reads the clock with
// FoundationEssentials, which swift-argument-parser imports anyway.
import Glibc

#if ESSENTIALS
import FoundationEssentials

struct Reply: Decodable {
    var name: String
    var version: Int
}
let reply = try! JSONDecoder().decode(Reply.self, from: Data(#"{"name":"floor","version":1}"#.utf8))
print(reply.name, reply.version, Date().timeIntervalSince1970 > 0)
#endif

@_silgen_name("floor_main")
func floorMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32

var counts: [String: Int] = [:]
for word in CommandLine.arguments { counts[word, default: 0] += 1 }
exit(floorMain(CommandLine.argc, CommandLine.unsafeArgv))
