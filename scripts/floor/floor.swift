// The floor program (floor.c) under Swift's statically linked runtime.
// -D ESSENTIALS_LINKED links FoundationEssentials and touches it as
// swift-argument-parser does on every run (one cast to LocalizedError);
// -D ESSENTIALS_USED also decodes JSON and reads the clock with it.
import Glibc

#if ESSENTIALS_LINKED || ESSENTIALS_USED
import FoundationEssentials

struct Failure: Error {}
let failure: any Error = Failure()
print("localized:", failure as? LocalizedError != nil)
#endif

#if ESSENTIALS_USED
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
