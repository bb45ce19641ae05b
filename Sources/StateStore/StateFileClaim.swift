// How a writer takes hold of its state file without being tricked into writing somewhere else, and keeps others
// from writing it at the same time.
//
// A file is only as safe as the directories above it: whoever can change one of them can swap the file for a link
// between any check and SQLite's own open by path. So every directory on the resolved path must be changeable only
// by root or the running user (a sticky directory such as /tmp counts: nobody can rename or remove another's
// entries there, but then the entries must be the running user's or the hand-over user's own). In such a directory
// the file is examined by descriptor: opened without following a link (O_NOFOLLOW, created with O_EXCL, 0600),
// then `fstat` says whether it is a regular file with one name. The `-wal` and `-shm` files SQLite keeps beside it
// get the same treatment. Handing the files to the sensor's user is `fchown` on those descriptors, never `chown`
// by path; the directory stays root's. Finally an exclusive `flock` on the file's descriptor, held as long as the
// writer lives, makes a second writer fail at once; the holder is named from /proc/locks.

import Foundation
import Glibc

/// The account a sensor hands its state file to before it drops root (`idlewatch live --user`).
public struct StateFileOwner: Sendable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t

    public init(name: String, uid: uid_t, gid: gid_t) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }
}

/// A writer's hold on its state file: the directory and the file open by descriptor, the file locked against other
/// writers. Closing the descriptor releases the lock, so it must outlive SQLite's connections (closing any
/// descriptor of a file drops the process's POSIX locks on it, SQLite's included): the connections hold it.
final class StateFileClaim: @unchecked Sendable {  // every property is a constant
    /// The path as given (for messages), and the directory SQLite is given, without links.
    let path: String
    let resolvedDirectory: String
    let name: String
    let directory: Int32
    let descriptor: Int32
    /// Whether the directory is sticky and writable by others (then entries are trusted by their owner).
    let stickyShared: Bool
    let owner: StateFileOwner?

    var resolvedPath: String { (resolvedDirectory == "/" ? "" : resolvedDirectory) + "/" + name }

    private init(path: String, resolvedDirectory: String, name: String, directory: Int32, descriptor: Int32,
                 stickyShared: Bool, owner: StateFileOwner?) {
        self.path = path
        self.resolvedDirectory = resolvedDirectory
        self.name = name
        self.directory = directory
        self.descriptor = descriptor
        self.stickyShared = stickyShared
        self.owner = owner
    }

    deinit {
        close(descriptor)
        close(directory)
    }

    /// Opens (creating if missing, 0600) and locks the state file at `path` for writing; hands it to `owner` when
    /// one is given. Throws with a message saying what was refused.
    static func take(path: String, owner: StateFileOwner?) throws -> StateFileClaim {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        guard !path.hasSuffix("/"), !name.isEmpty, name != ".", name != ".." else {
            throw StateFileError(path, "not a file name")
        }
        let given = (path as NSString).deletingLastPathComponent
        let directoryPath = given.isEmpty ? "." : given
        guard let resolved = realpath(directoryPath, nil) else {
            if errno == ENOENT { throw StateFileError(path, "directory \(directoryPath) does not exist") }
            throw StateFileError(path, "directory \(directoryPath): \(describe(errno))")
        }
        let resolvedDirectory = String(cString: resolved)
        free(resolved)
        let last = try checkDirectories(resolvedDirectory, path: path, owner: owner)
        let directory = open(resolvedDirectory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { throw StateFileError(path, "directory \(resolvedDirectory): \(describe(errno))") }
        var opened = stat()
        guard fstat(directory, &opened) == 0, opened.st_dev == last.st_dev, opened.st_ino == last.st_ino else {
            close(directory)
            throw StateFileError(path, "directory \(resolvedDirectory) changed while being checked; refused")
        }
        let stickyShared = last.st_mode & (S_IWGRP | S_IWOTH) != 0
        let descriptor: Int32
        do {
            descriptor = try openEntry(directory: directory, name: name, label: path, stickyShared: stickyShared,
                                       owner: owner, create: true)
        } catch {
            close(directory)
            throw error
        }
        let claim = StateFileClaim(path: path, resolvedDirectory: resolvedDirectory, name: name, directory: directory,
                                   descriptor: descriptor, stickyShared: stickyShared, owner: owner)
        var waited = 0
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let reason = errno
            guard reason == EWOULDBLOCK || reason == EINTR else {
                throw StateFileError(path, "cannot lock the state file: \(describe(reason))")
            }
            if reason == EINTR { continue }
            let holder = claim.holder()
            // This process itself: a state file of an earlier run in it still closing (its connections close on
            // their own queues, and the last one releases the lock). Wait a little for that, not for others. No
            // holder in the table: released meanwhile, try again.
            guard (holder.pid == nil || holder.pid == getpid()) && waited < 500 else {
                throw StateFileError(path, "in use by \(holder.description): one process writes a state file at a "
                    + "time (`idlewatch hosts` can read it meanwhile)")
            }
            usleep(10_000)
            waited += 1
        }
        return claim
    }

    /// Checks SQLite's companion files (`-wal`, `-shm`) as the state file itself. With an owner to hand them to,
    /// they are made here (SQLite could not make them once the sensor runs as that user in a root-owned directory)
    /// and handed over; without one, SQLite makes any that are missing itself (it opens them with O_NOFOLLOW).
    /// Called once the file's header was found to be a state file's (a foreign file is left untouched).
    func prepareCompanions() throws {
        if let owner, fchown(descriptor, owner.uid, owner.gid) != 0 {
            throw StateFileError(path, "cannot hand the state file to \(owner.name): \(describe(errno))")
        }
        for suffix in ["-wal", "-shm"] {
            var info = stat()
            if owner == nil && fstatat(directory, name + suffix, &info, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT {
                continue
            }
            let companion = try StateFileClaim.openEntry(directory: directory, name: name + suffix, label: path + suffix,
                                                         stickyShared: stickyShared, owner: owner, create: owner != nil)
            defer { close(companion) }
            if let owner, fchown(companion, owner.uid, owner.gid) != 0 {
                throw StateFileError(path + suffix, "cannot hand it to \(owner.name): \(describe(errno))")
            }
        }
    }

    /// Whether the directory entry is still the file this claim holds (SQLite opened it by path).
    func stillNamesTheFile() -> Bool {
        var entry = stat(), held = stat()
        return fstatat(directory, name, &entry, AT_SYMLINK_NOFOLLOW) == 0 && fstat(descriptor, &held) == 0
            && entry.st_dev == held.st_dev && entry.st_ino == held.st_ino
    }

    /// Every directory from / down to `resolved` (a path without links) must be changeable only by root or by
    /// this process's user: otherwise its owner could swap what lies below. Returns the last one's status.
    /// With an `owner`, each must also be searchable by that user, who reopens the file by path once the process
    /// runs as it.
    static func checkDirectories(_ resolved: String, path: String, owner: StateFileOwner?) throws -> stat {
        let user = geteuid()
        var prefix = ""
        var components = resolved.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        components.insert("", at: 0)
        var info = stat()
        for component in components {
            prefix = component.isEmpty ? "/" : (prefix == "/" ? "" : prefix) + "/" + component
            guard lstat(prefix, &info) == 0 else { throw StateFileError(path, "directory \(prefix): \(describe(errno))") }
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw StateFileError(path, "\(prefix) is not a directory (changed while being checked?); refused")
            }
            guard info.st_uid == 0 || info.st_uid == user else {
                throw StateFileError(path, "directory \(prefix) belongs to uid \(info.st_uid), not to root"
                    + (user == 0 ? "" : " or uid \(user)") + ": its owner could swap the state file for a link to "
                    + "another file; refused (make it root's, or choose another directory)")
            }
            if info.st_mode & (S_IWGRP | S_IWOTH) != 0 && info.st_mode & S_ISVTX == 0 {
                throw StateFileError(path, "directory \(prefix) is writable by others (mode \(octal(info.st_mode))): "
                    + "anyone could swap the state file for a link to another file; refused")
            }
            if let owner {
                let searchable = info.st_mode & S_IXOTH != 0 || (info.st_uid == owner.uid && info.st_mode & S_IXUSR != 0)
                    || (info.st_gid == owner.gid && info.st_mode & S_IXGRP != 0)
                guard searchable else {
                    throw StateFileError(path, "directory \(prefix) is not searchable by \(owner.name) (mode "
                        + "\(octal(info.st_mode))): the sensor could not reopen its state file once it runs as "
                        + "\(owner.name) (chmod o+x \(prefix), or choose another directory)")
                }
            }
        }
        return info
    }

    /// Opens a regular file with a single name in `directory` for reading and writing, creating it (0600) when
    /// `create` is set and it is missing. A symbolic link, a FIFO, a device, a directory or a file with several
    /// names is refused with a message, and left as it is.
    static func openEntry(directory: Int32, name: String, label: String, stickyShared: Bool, owner: StateFileOwner?,
                          create: Bool) throws -> Int32 {
        for _ in 0..<3 {
            var entry = stat()
            if fstatat(directory, name, &entry, AT_SYMLINK_NOFOLLOW) != 0 {
                guard errno == ENOENT else { throw StateFileError(label, "cannot examine it: \(describe(errno))") }
                guard create else { throw StateFileError(label, "disappeared while being opened; refused") }
                let made = openat(directory, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if made >= 0 { return made }
                if errno == EEXIST { continue }  // made by someone else meanwhile: examine it
                throw StateFileError(label, "cannot create it: \(describe(errno))")
            }
            try refuseUnlessPlain(entry, directory: directory, name: name, label: label)
            // O_NONBLOCK: should the entry be swapped for a FIFO after the check, the open does not wait for a writer.
            let descriptor = openat(directory, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard descriptor >= 0 else {
                if errno == ELOOP { throw StateFileError(label, "is a symbolic link; refused and left untouched") }
                throw StateFileError(label, "cannot open it: \(describe(errno))")
            }
            var held = stat()
            guard fstat(descriptor, &held) == 0, held.st_dev == entry.st_dev, held.st_ino == entry.st_ino else {
                close(descriptor)
                throw StateFileError(label, "changed while being opened; refused")
            }
            do {
                try refuseUnlessPlain(held, directory: directory, name: name, label: label)
                let user = geteuid()
                if stickyShared && held.st_uid != user && held.st_uid != owner?.uid {
                    throw StateFileError(label, "belongs to uid \(held.st_uid) in a directory anyone can write: "
                        + "whoever made it could read or replace what is saved; refused and left untouched")
                }
            } catch {
                close(descriptor)
                throw error
            }
            return descriptor
        }
        throw StateFileError(label, "keeps changing while being opened; refused")
    }

    /// For a report (which only reads): a FIFO or a device where the state file should be is refused rather than
    /// opened (a FIFO would block the report forever). Links are followed: reading through them harms nothing.
    static func refuseUnlessReadable(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }  // missing: the caller says so
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFIFO: throw StateFileError(path, "is a FIFO, not a regular file; refused")
        case S_IFDIR: throw StateFileError(path, "is a directory, not a state file")
        default: throw StateFileError(path, "is not a regular file; refused")
        }
    }

    static func refuseUnlessPlain(_ info: stat, directory: Int32, name: String, label: String) throws {
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard info.st_nlink == 1 else {
                throw StateFileError(label, "has \(info.st_nlink) names (hard links): it may be another file under a "
                    + "second name; refused and left untouched")
            }
        case S_IFLNK:
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlinkat(directory, name, &target, target.count - 1)
            let shown = count >= 0 ? " to " + String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            throw StateFileError(label, "is a symbolic link\(shown); refused, the link and its target left untouched")
        case S_IFIFO: throw StateFileError(label, "is a FIFO, not a regular file; refused and left untouched")
        case S_IFDIR: throw StateFileError(label, "is a directory, not a regular file; refused")
        case S_IFSOCK: throw StateFileError(label, "is a socket, not a regular file; refused and left untouched")
        default: throw StateFileError(label, "is a device, not a regular file; refused and left untouched")
        }
    }

    /// Who holds the lock on this file, from /proc/locks (the kernel's table: flock locks with their owner's
    /// pid and the file's device and inode): its pid and "pid N (command line)".
    func holder() -> (pid: Int32?, description: String) {
        var info = stat()
        guard fstat(descriptor, &info) == 0,
              let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return (nil, "another process") }
        let device = UInt64(info.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        for line in table.split(separator: "\n") {
            // "3: FLOCK  ADVISORY  WRITE 7426 fe:00:16220213 0 EOF"
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int32(fields[4]) else { continue }
            let file = fields[5].split(separator: ":")
            guard file.count == 3, UInt64(file[0], radix: 16) == major, UInt64(file[1], radix: 16) == minor,
                  UInt64(file[2]) == UInt64(info.st_ino) else { continue }
            let arguments = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            let command = arguments.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            let shown = command.count > 200 ? String(command.prefix(200)) + "..." : command
            return (pid, "pid \(pid)" + (shown.isEmpty ? "" : " (\(shown))"))
        }
        return (nil, "another process")
    }
}

func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

func octal(_ mode: mode_t) -> String {
    let text = String(mode & 0o7777, radix: 8)
    return String(repeating: "0", count: max(0, 4 - text.count)) + text
}
