/// A fleet's host CPUs, read from files and folders.
public struct HostInventory: Sendable {
    /// The hosts that were read, in the order of the files (and of the CPUs in each).
    public var hosts: [CPU]
    /// With `keepGoing`: the files that could not be read, each with its error.
    public var skipped: [CPUCompatError]
}

extension CPUMap {
    /// The files `paths` names: files as given, and for a folder its `*.xml`
    /// files (any case: `*.XML` too) in name order, with `recursive` those of
    /// its subfolders as well.
    ///
    /// - Throws: `CPUCompatError.unreadable` for an unreadable folder, or one without XML files.
    static func hostFiles(_ paths: [String], recursive: Bool) throws(CPUCompatError) -> [String] {
        if paths.filter({ $0 == "-" }).count > 1 {
            throw .unreadable(path: "-", reason: "is given more than once, but standard input can be read only once")
        }
        var files: [String] = []
        for path in paths {
            guard path != "-", FileSystem.isDirectory(path) else {
                files.append(path)
                continue
            }
            let found = try xmlFiles(in: path, recursive: recursive)
            guard !found.isEmpty else { throw .unreadable(path: path, reason: "is a folder without *.xml files") }
            files += found
        }
        return files
    }

    private static func xmlFiles(in folder: String, recursive: Bool) throws(CPUCompatError) -> [String] {
        var files: [String] = []
        for name in try FileSystem.contents(ofDirectory: folder) {
            let path = FileSystem.join(folder, name)
            if FileSystem.isDirectory(path) {
                // Linked folders are not followed: a link to an ancestor would never end.
                if recursive, !name.hasPrefix("."), !FileSystem.isSymbolicLink(path) {
                    files += try xmlFiles(in: path, recursive: true)
                }
            } else if name.lowercased().hasSuffix(".xml") {
                files.append(path)
            }
        }
        return files
    }

    /// Reads the host CPUs named by `paths`: files, or folders whose `*.xml`
    /// files are read in name order. A file may hold several hosts
    /// (concatenated capabilities); a guest definition is refused.
    ///
    /// - Parameters:
    ///   - paths: Files and folders.
    ///   - progress: Called after each file with (files done, files in all).
    /// - Returns: The host CPUs in the order of `paths` and, within a folder, of names.
    /// - Throws: `CPUCompatError` naming the first file that cannot be read.
    public func readHosts(_ paths: [String], progress: ((Int, Int) -> Void)? = nil) throws(CPUCompatError) -> [CPU] {
        try readHosts(paths, recursive: false, keepGoing: false, progress: progress).hosts
    }

    /// Reads the host CPUs named by `paths`, as `readHosts(_:progress:)` does.
    ///
    /// - Parameters:
    ///   - paths: Files and folders; `-` is standard input.
    ///   - recursive: Read the subfolders of folders too.
    ///   - keepGoing: Collect the errors of files that cannot be read and go on
    ///     with the others, instead of stopping at the first.
    ///   - progress: Called after each file with (files done, files in all).
    /// - Returns: The hosts, and the errors of the files skipped.
    /// - Throws: `CPUCompatError` for the first unreadable file (without
    ///   `keepGoing`), a folder without XML files, or when no host at all was read.
    public func readHosts(_ paths: [String], recursive: Bool, keepGoing: Bool,
                          progress: ((Int, Int) -> Void)? = nil) throws(CPUCompatError) -> HostInventory {
        let files = try Self.hostFiles(paths, recursive: recursive)
        var inventory = HostInventory(hosts: [], skipped: [])
        inventory.hosts.reserveCapacity(files.count)
        for (done, file) in files.enumerated() {
            do {
                let cpus = try readHostCPUs(contentsOf: file)
                // A fleet file's 100,000 CPUs become the inventory's as they are, not copied beside it.
                if inventory.hosts.isEmpty { inventory.hosts = cpus } else { inventory.hosts += cpus }
            } catch {
                guard keepGoing else { throw error }
                inventory.skipped.append(error)
            }
            progress?(done + 1, files.count)
        }
        if inventory.hosts.isEmpty, let first = inventory.skipped.first { throw first }
        return inventory
    }
}
