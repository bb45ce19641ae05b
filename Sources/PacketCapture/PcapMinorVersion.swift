// pcap files whose header says version 2.5 or later (2.N, N > 4): libpcap 1.10 refuses them ("unsupported pcap
// savefile version 2.5"), Wireshark reads them as 2.4. The pcap specification (draft-ietf-opsawg-pcap, "Minor
// Version") bumps the minor version only for changes a newer reader handles without looking at it, and defines no
// layout after 2.4: the file header and the records of a 2.5 file are 2.4's. So libpcap reads the file through a
// stream that shows it the header with minor version 4 and every other byte as it is; libpcap's checks, filters and
// timestamps apply unchanged.

import CPcap
import Glibc

enum PcapMinorVersion {
    /// The pcap file header: magic, major and minor version, then 16 bytes nothing here changes.
    static let headerLength = 24
    static let majorVersionOffset = 4
    static let minorVersionOffset = 6
    /// The last minor version libpcap reads (PCAP_VERSION_MINOR).
    static let libpcapMinor: UInt16 = 4

    /// Whether libpcap's refusal is for a minor version of major version 2 above the one it knows.
    static func isNewerMinor(_ libpcapMessage: String) -> Bool {
        let prefix = "unsupported pcap savefile version 2."
        guard libpcapMessage.hasPrefix(prefix), let minor = UInt16(libpcapMessage.dropFirst(prefix.count)) else {
            return false
        }
        return minor > libpcapMinor
    }

    /// `path` as a stream whose header says 2.4, or nil (with the reason) when it is not a pcap file of version 2.N,
    /// N > 4, after all. libpcap owns the stream once it opens it and closes it with `fclose`.
    static func open(_ path: String) -> (UnsafeMutablePointer<FILE>?, String) {
        let descriptor = Glibc.open(path, O_RDONLY)
        guard descriptor >= 0 else { return (nil, String(cString: strerror(errno))) }
        let stream = PatchedHeader(descriptor: descriptor)
        var header = [UInt8](repeating: 0, count: headerLength)
        var filled = 0
        while filled < headerLength {
            let count = header.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, headerLength - filled) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return (nil, "truncated pcap file header") }
            filled += count
        }
        // The magic says the byte order of every field after it.
        let magic = UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3])
        let bigEndian: Bool
        switch magic {
        case 0xa1b2_c3d4, 0xa1b2_3c4d: bigEndian = true
        case 0xd4c3_b2a1, 0x4d3c_b2a1: bigEndian = false
        default: return (nil, "not a pcap file")
        }
        func field(_ offset: Int) -> UInt16 {
            bigEndian ? UInt16(header[offset]) << 8 | UInt16(header[offset + 1])
                : UInt16(header[offset + 1]) << 8 | UInt16(header[offset])
        }
        guard field(majorVersionOffset) == 2, field(minorVersionOffset) > libpcapMinor else {
            return (nil, "not a pcap file of version 2.5 or later")
        }
        header[minorVersionOffset] = bigEndian ? 0 : UInt8(libpcapMinor)
        header[minorVersionOffset + 1] = bigEndian ? UInt8(libpcapMinor) : 0
        stream.header = header
        let cookie = Unmanaged.passRetained(stream).toOpaque()
        let functions = idlewatch_cookie_functions(
            read: { cookie, buffer, size in
                Unmanaged<PatchedHeader>.fromOpaque(cookie!).takeUnretainedValue().read(buffer!, size)
            },
            write: nil,
            seek: { cookie, offset, whence in
                Unmanaged<PatchedHeader>.fromOpaque(cookie!).takeUnretainedValue().seek(offset!, whence)
            },
            close: { cookie in
                Unmanaged<PatchedHeader>.fromOpaque(cookie!).takeRetainedValue().close()
            })
        guard let file = idlewatch_fopencookie(cookie, "rb", functions) else {
            let reason = String(cString: strerror(errno))
            Unmanaged<PatchedHeader>.fromOpaque(cookie).release()
            return (nil, reason)
        }
        return (file, "")
    }

    /// The cookie: the patched header from memory, the rest from the file, and the position for `ftello`.
    final class PatchedHeader {
        let descriptor: Int32
        var header: [UInt8] = []
        /// Bytes handed out so far: the file offset, since the patched header is as long as the original.
        var position: Int64 = 0
        var closed = false

        init(descriptor: Int32) {
            self.descriptor = descriptor
        }

        deinit {
            if !closed { Glibc.close(descriptor) }
        }

        func read(_ buffer: UnsafeMutablePointer<CChar>, _ size: Int) -> Int {
            if position < Int64(header.count) {
                let count = min(size, header.count - Int(position))
                header.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress! + Int(position), byteCount: count) }
                position += Int64(count)
                return count
            }
            while true {
                let count = Glibc.read(descriptor, buffer, size)
                if count < 0 && errno == EINTR { continue }
                if count > 0 { position += Int64(count) }
                return count
            }
        }

        /// Only what `ftello` asks (the current position); the readers never seek a pcap file.
        func seek(_ offset: UnsafeMutablePointer<Int64>, _ whence: Int32) -> Int32 {
            guard whence == SEEK_CUR, offset.pointee == 0 else {
                errno = ESPIPE
                return -1
            }
            offset.pointee = position
            return 0
        }

        func close() -> Int32 {
            closed = true
            return Glibc.close(descriptor)
        }
    }
}
