import CPUCompat

/// The map every input is read against: the built-in one, so the target
/// does not depend on what the machine has installed.
private let map: CPUMap? = try? CPUMap.builtIn()

/// libFuzzer's entry point: one input, read as CPUs (every reader), then as
/// a domain to patch. Any input may be rejected with a `CPUCompatError`; what
/// must never happen is a crash, a hang or a sanitizer report. On every
/// domain it accepts, the patch must keep every byte outside `<cpu>`, be
/// read back by the CPU reader with the planned mode, and change nothing
/// when run on its own output.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let map, let x86 = map.x86 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let definitions = try? CPUDefinitionReader.read(bytes, path: "fuzz.xml")
    if let definitions {
        let cpus = definitions.compactMap { try? map.resolve($0) }
        if !cpus.isEmpty {
            _ = try? x86.baseline(of: cpus)
            _ = x86.migrationMatrix(of: cpus)
            _ = x86.compare(guest: cpus[0], host: cpus[cpus.count - 1])
        }
    }
    guard let plan = try? x86.guestPlan(for: [hostA, hostB].compactMap { $0 }, strategy: size % 2 == 0 ? .model : .disable),
          let patch = try? DomainPatcher.patch(bytes, path: "fuzz.xml", plan: plan, architecture: x86) else { return 0 }
    checkOnlyCPUChanged(patch)
    // Read by the other parser (the CPU reader's), the patched domain's CPU has the planned mode.
    if let after = try? CPUDefinitionReader.read(patch.patched, path: "fuzz.xml") {
        precondition(after.count == 1 && after[0].mode == plan.mode.rawValue, "the patched domain's <cpu> is the planned one")
    } else {
        precondition(definitions == nil, "a domain the CPU reader read is still readable once patched")
    }
    let again = try? DomainPatcher.patch(patch.patched, path: "fuzz.xml", plan: plan, architecture: x86)
    precondition(again?.patched == patch.patched, "patching a patched domain must change nothing")
    return 0
}

/// The bytes around the replaced range are the original's, the old range
/// (if any) is an element named cpu, and the new one ends a `<cpu>`.
private func checkOnlyCPUChanged(_ patch: DomainPatch) {
    let (old, new) = (patch.original, patch.patched)
    let (replaced, written) = (patch.replaced, patch.written)
    precondition(old[..<replaced.lowerBound].elementsEqual(new[..<written.lowerBound]), "the bytes before <cpu> are kept")
    precondition(old[replaced.upperBound...].elementsEqual(new[written.upperBound...]), "the bytes after <cpu> are kept")
    let opening = Array("<cpu".utf8), closing = Array("</cpu>".utf8)
    if !replaced.isEmpty {
        precondition(old[replaced].starts(with: opening) && old[replaced.upperBound - 1] == UInt8(ascii: ">"), "only a <cpu> is replaced")
    }
    precondition(new[written].reversed().starts(with: closing.reversed()), "what is written ends a <cpu>")
}

private let hostA = try? map.flatMap { map in
    try CPUDefinitionReader.read(Array("<cpu><arch>x86_64</arch><model>Haswell-noTSX-IBRS</model><vendor>Intel</vendor><feature name='vmx'/></cpu>".utf8), path: "a").first.map { try map.resolve($0) }
}
private let hostB = try? map.flatMap { map in
    try CPUDefinitionReader.read(Array("<cpu><arch>x86_64</arch><model>IvyBridge-IBRS</model><vendor>Intel</vendor></cpu>".utf8), path: "b").first.map { try map.resolve($0) }
}

/// libFuzzer's driver, for a program that has its own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
) -> Int32

/// SwiftPM points an executable's `main` at `<module>_main`; hand over to libFuzzer's driver there.
@_cdecl("cpucompat_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzz(data, size) }
}
