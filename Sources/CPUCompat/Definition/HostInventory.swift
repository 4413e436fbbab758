extension CPUMap {
    /// Reads the host CPUs named by `paths`: files, or folders whose `*.xml`
    /// files are read in name order. A file may hold several hosts
    /// (concatenated capabilities); a guest definition is refused.
    ///
    /// - Parameter progress: Called after each file with (files done, files in all).
    /// - Throws: `CPUCompatError` naming the first file that cannot be read.
    public func readHosts(_ paths: [String], progress: ((Int, Int) -> Void)? = nil) throws(CPUCompatError) -> [CPU] {
        var files: [String] = []
        for path in paths {
            if path != "-", FileSystem.isDirectory(path) {
                let names = try FileSystem.contents(ofDirectory: path).filter { $0.hasSuffix(".xml") }
                guard !names.isEmpty else { throw .noCPU(path: path) }
                files += names.map { FileSystem.join(path, $0) }
            } else {
                files.append(path)
            }
        }
        var hosts: [CPU] = []
        hosts.reserveCapacity(files.count)
        for (done, file) in files.enumerated() {
            hosts += try readHostCPUs(contentsOf: file)
            progress?(done + 1, files.count)
        }
        return hosts
    }
}
