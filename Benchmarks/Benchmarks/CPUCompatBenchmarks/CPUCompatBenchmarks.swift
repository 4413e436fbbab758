import Benchmark
import CPUCompat
#if canImport(Glibc)
import Glibc
#endif

// Inputs are made once, outside the measured blocks, from the built-in map
// so the figures do not depend on what the machine has installed.

private let map: CPUMap = {
    do { return try CPUMap.builtIn() } catch { preconditionFailure("the built-in map must load: \(error)") }
}()
private let x86: CPUArchitecture = {
    guard let x86 = map.x86 else { preconditionFailure("the built-in map has x86") }
    return x86
}()

/// Host `<cpu>` elements of several generations, as `virsh capabilities` writes them.
private func hostCPUs(_ count: Int) -> String {
    let models = ["IvyBridge-IBRS", "Haswell-noTSX-IBRS", "Broadwell-noTSX-IBRS", "Skylake-Server-IBRS", "Cascadelake-Server"]
    let extras = ["ds", "acpi", "ss", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "vmx", "est", "tm2", "xtpr",
                  "pdcm", "osxsave", "arat", "md-clear", "stibp", "ssbd", "xsaveopt", "invtsc", "pdpe1gb", "abm"]
    var text = ""
    for index in 0..<count {
        text += "<cpu>\n  <arch>x86_64</arch>\n  <model>\(models[index % models.count])</model>\n  <vendor>Intel</vendor>\n"
        for (position, feature) in extras.enumerated() where (index + position) % 7 != 0 {
            text += "  <feature name='\(feature)'/>\n"
        }
        text += "</cpu>\n"
    }
    return text
}

/// `count` host `<cpu>`s with `distinct` different feature sets: Westmere-IBRS
/// plus the subset of 24 newer features given by the host's number modulo
/// `distinct` (as Scripts/generate-fleet writes them as files).
private func distinctHostCPUs(_ count: Int, distinct: Int) -> String {
    let pool = ["avx", "avx2", "bmi1", "bmi2", "fma", "movbe", "rdrand", "rdseed", "adx", "smap", "smep", "xsavec",
                "3dnowprefetch", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "clwb", "clflushopt",
                "f16c", "fsgsbase", "invpcid", "erms"]
    var text = ""
    for index in 0..<count {
        text += "<cpu>\n  <arch>x86_64</arch>\n  <model>Westmere-IBRS</model>\n  <vendor>Intel</vendor>\n"
        let subset = index % distinct
        for (bit, feature) in pool.enumerated() where subset >> bit & 1 == 1 { text += "  <feature name='\(feature)'/>\n" }
        text += "</cpu>\n"
    }
    return text
}

private func resolve(_ text: String) -> [CPU] {
    do {
        return try CPUDefinitionReader.read(Array(text.utf8), path: "bench.xml").map { try map.resolve($0) }
    } catch {
        preconditionFailure("benchmark input must read: \(error)")
    }
}

private let fixtures = "../Fixtures/"

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
                                           maxDuration: .seconds(2), maxIterations: 1_000)

    for builtIn in BuiltInCPUMap.all {
        // A process decodes a built-in map once and keeps it, so the decoding is timed on its snapshot text.
        let snapshot = (try? builtIn.load())?.snapshot(libvirtVersion: builtIn.libvirtVersion, provenance: builtIn.provenance) ?? ""
        Benchmark("load map: built-in \(builtIn.release) (decoding its snapshot)") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try CPUMap(snapshot: snapshot, origin: .builtIn(release: builtIn.release)))
            }
        }
    }
    let oracles = "/var/cache/cpucompat-oracles/12.9/cpu_map"
    Benchmark("load map: libvirt 12.9 folder (identical to built-in:12.9)",
              configuration: .init(skip: !FileSystemProbe.exists(oracles + "/index.xml"))) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try CPUMap(contentsOf: oracles)) }
    }
    Benchmark("load map: libvirt 12.9 folder, parsed from XML",
              configuration: .init(maxIterations: 50, skip: !FileSystemProbe.exists(oracles + "/index.xml"))) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try CPUMap(contentsOf: oracles, usingSnapshots: false)) }
    }
    Benchmark("load map: libvirt folder", configuration: .init(skip: !FileSystemProbe.exists("/usr/share/libvirt/cpu_map/index.xml"))) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try CPUMap(contentsOf: "/usr/share/libvirt/cpu_map")) }
    }
    Benchmark("read one capabilities file") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try map.readSingleHostCPU(contentsOf: fixtures + "kvm02.xml")) }
    }
    for count in [2, 1_000, 10_000, 100_000] {
        let text = hostCPUs(count)
        Benchmark("baseline of \(count) hosts (read + compute)",
                  configuration: .init(maxIterations: count >= 10_000 ? 10 : 1_000)) { benchmark in
            for _ in benchmark.scaledIterations {
                let cpus = try CPUDefinitionReader.read(Array(text.utf8), path: "bench.xml").map { try map.resolve($0) }
                blackHole(try x86.baseline(of: cpus))
            }
        }
    }
    let pair = resolve(hostCPUs(2))
    Benchmark("diff of two hosts") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(x86.diff(from: pair[0], to: pair[1])) }
    }
    for count in [1_000, 10_000] {
        let hosts = resolve(hostCPUs(count))
        Benchmark("matrix of \(count) hosts", configuration: .init(maxIterations: 10)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(x86.migrationMatrix(of: hosts)) }
        }
    }
    for (count, distinct) in [(1_000, 1_000), (10_000, 10_000), (10_000, 50)] {
        let hosts = resolve(distinctHostCPUs(count, distinct: distinct))
        Benchmark("matrix of \(count) hosts, \(distinct) distinct CPUs (compute + text)", configuration: .init(maxIterations: 5)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(x86.migrationMatrix(of: hosts).text) }
        }
        Benchmark("models of \(count) hosts, \(distinct) distinct CPUs", configuration: .init(maxIterations: 5)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(x86.modelUsability(of: hosts)) }
        }
    }
    Benchmark("patch one domain") { benchmark in
        let plan = try x86.guestPlan(for: pair, strategy: .model)
        let domain = try CPUDefinitionReader.readBytes(contentsOf: fixtures + "guest01.xml")
        for _ in benchmark.scaledIterations {
            blackHole(try DomainPatcher.patch(domain, path: "guest01.xml", plan: plan, architecture: x86))
        }
    }
}

/// Whether a path exists.
enum FileSystemProbe {
    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
