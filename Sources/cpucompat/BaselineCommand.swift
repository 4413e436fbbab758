import ArgumentParser
import CPUCompat
struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "baseline")
    func run() throws {}
}
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff")
    func run() throws {}
}
