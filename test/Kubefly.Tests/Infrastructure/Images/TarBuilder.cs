using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Kubefly.Tests.Infrastructure.Images;

/// <summary>
/// Builds layer tars in memory, entry by entry, for images whose content a test controls exactly: PAX
/// entries through TarWriter, raw ustar headers where TarWriter refuses (the hostile corpus).
/// </summary>
public sealed class TarBuilder
{
    public static readonly DateTimeOffset DefaultTime = new(2020, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private readonly MemoryStream _stream = new();
    private readonly TarWriter _writer;

    public TarBuilder()
    {
        _writer = new TarWriter(_stream, TarEntryFormat.Pax, leaveOpen: true);
    }

    public TarBuilder Dir(string name, int mode = 0b111_101_101, int uid = 0, int gid = 0, DateTimeOffset? mtime = null, IDictionary<string, string>? xattrs = null) =>
        Add(TarEntryType.Directory, name, mode, uid, gid, mtime, xattrs);

    public TarBuilder File(string name, string content = "", int mode = 0b110_100_100, int uid = 0, int gid = 0, DateTimeOffset? mtime = null, IDictionary<string, string>? xattrs = null) =>
        File(name, Encoding.UTF8.GetBytes(content), mode, uid, gid, mtime, xattrs);

    public TarBuilder File(string name, byte[] content, int mode = 0b110_100_100, int uid = 0, int gid = 0, DateTimeOffset? mtime = null, IDictionary<string, string>? xattrs = null) =>
        Add(TarEntryType.RegularFile, name, mode, uid, gid, mtime, xattrs, data: content);

    public TarBuilder Symlink(string name, string target, int uid = 0, int gid = 0, DateTimeOffset? mtime = null) =>
        Add(TarEntryType.SymbolicLink, name, 0b111_111_111, uid, gid, mtime, null, linkName: target);

    public TarBuilder Hardlink(string name, string target) =>
        Add(TarEntryType.HardLink, name, 0b110_100_100, 0, 0, null, null, linkName: target);

    public TarBuilder CharDevice(string name, int major, int minor, int mode = 0b110_110_110, int uid = 0, int gid = 0) =>
        Add(TarEntryType.CharacterDevice, name, mode, uid, gid, null, null, major: major, minor: minor);

    public TarBuilder BlockDevice(string name, int major, int minor, int mode = 0b110_110_000) =>
        Add(TarEntryType.BlockDevice, name, mode, 0, 0, null, null, major: major, minor: minor);

    public TarBuilder Fifo(string name, int mode = 0b110_100_100, int uid = 0, int gid = 0) =>
        Add(TarEntryType.Fifo, name, mode, uid, gid, null, null);

    /// <summary>A whiteout is an empty regular file named .wh.NAME (or .wh..wh..opq).</summary>
    public TarBuilder Whiteout(string name) => File(name);

    /// <summary>Adds a whole host file (e.g. busybox) with its content.</summary>
    public TarBuilder HostFile(string name, string hostPath, int mode) => File(name, System.IO.File.ReadAllBytes(hostPath), mode);

    /// <summary>Appends bytes exactly as given (a raw header and its data, already block-padded).</summary>
    public TarBuilder Raw(byte[] bytes)
    {
        _stream.Write(bytes);
        return this;
    }

    /// <summary>The archive with its end-of-archive marker.</summary>
    public byte[] Build()
    {
        _writer.Dispose();
        return _stream.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    public static byte[] Zstd(byte[] data)
    {
        using var output = new MemoryStream();
        using (var zstd = new ZstdSharp.CompressionStream(output, 3, leaveOpen: true))
        {
            zstd.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>
    /// A ustar header block (plus data, padded) written byte by byte, for names and link names TarWriter
    /// would not produce (empty names, raw NUL handling, lying size fields).
    /// </summary>
    public static byte[] RawEntry(string name, char type, string linkName = "", byte[]? data = null, long? declaredSize = null, int mode = 0b110_100_100)
    {
        data ??= [];
        var size = declaredSize ?? data.Length;
        var header = new byte[512];
        WriteField(header, 0, 100, Encoding.UTF8.GetBytes(name));
        WriteOctal(header, 100, 8, mode);
        WriteOctal(header, 108, 8, 0);
        WriteOctal(header, 116, 8, 0);
        WriteOctal(header, 124, 12, size);
        WriteOctal(header, 136, 12, DefaultTime.ToUnixTimeSeconds());
        header[156] = (byte)type;
        WriteField(header, 157, 100, Encoding.UTF8.GetBytes(linkName));
        WriteField(header, 257, 6, "ustar\0"u8.ToArray());
        WriteField(header, 263, 2, "00"u8.ToArray());
        SetChecksum(header);
        var padded = (data.Length + 511) / 512 * 512;
        var result = new byte[512 + padded];
        header.CopyTo(result, 0);
        data.CopyTo(result, 512);
        return result;
    }

    /// <summary>A PAX extended header ('x') carrying the given records, to precede a raw entry.</summary>
    public static byte[] RawPaxHeader(IEnumerable<KeyValuePair<string, string>> records, long? declaredSize = null)
    {
        var body = new MemoryStream();
        foreach (var (key, value) in records)
        {
            var payload = Encoding.UTF8.GetBytes($" {key}={value}\n");
            var length = payload.Length + 1;
            while ((length.ToString().Length + payload.Length) != length)
            {
                length = length.ToString().Length + payload.Length;
            }

            body.Write(Encoding.ASCII.GetBytes(length.ToString()));
            body.Write(payload);
        }

        return RawEntry("PaxHeaders/x", 'x', data: body.ToArray(), declaredSize: declaredSize);
    }

    /// <summary>A PAX extended header with values given as raw bytes (not necessarily UTF-8).</summary>
    public static byte[] RawPaxHeaderBytes(IEnumerable<(string Key, byte[] Value)> records)
    {
        var body = new MemoryStream();
        foreach (var (key, value) in records)
        {
            var payloadLength = 1 + Encoding.UTF8.GetByteCount(key) + 1 + value.Length + 1;
            var length = payloadLength + 1;
            while (length.ToString().Length + payloadLength != length)
            {
                length = length.ToString().Length + payloadLength;
            }

            body.Write(Encoding.ASCII.GetBytes($"{length} {key}="));
            body.Write(value);
            body.WriteByte((byte)'\n');
        }

        return RawEntry("PaxHeaders/x", 'x', data: body.ToArray());
    }

    public static void SetChecksum(byte[] header)
    {
        for (var i = 148; i < 156; i++)
        {
            header[i] = (byte)' ';
        }

        var sum = 0;
        foreach (var b in header.AsSpan(0, 512))
        {
            sum += b;
        }

        var text = Convert.ToString(sum, 8).PadLeft(6, '0');
        Encoding.ASCII.GetBytes(text).CopyTo(header, 148);
        header[154] = 0;
        header[155] = (byte)' ';
    }

    private TarBuilder Add(TarEntryType type, string name, int mode, int uid, int gid, DateTimeOffset? mtime, IDictionary<string, string>? xattrs, byte[]? data = null, string? linkName = null, int major = 0, int minor = 0)
    {
        var attributes = new Dictionary<string, string>();
        if (xattrs is not null)
        {
            foreach (var (key, value) in xattrs)
            {
                attributes["SCHILY.xattr." + key] = value;
            }
        }

        var entry = new PaxTarEntry(type, name, attributes)
        {
            Mode = (UnixFileMode)mode,
            Uid = uid,
            Gid = gid,
            ModificationTime = mtime ?? DefaultTime,
        };
        if (linkName is not null)
        {
            entry.LinkName = linkName;
        }

        if (type is TarEntryType.CharacterDevice or TarEntryType.BlockDevice)
        {
            entry.DeviceMajor = major;
            entry.DeviceMinor = minor;
        }

        if (data is not null && data.Length > 0)
        {
            entry.DataStream = new MemoryStream(data);
        }

        _writer.WriteEntry(entry);
        return this;
    }

    private static void WriteField(byte[] header, int offset, int length, byte[] value) =>
        value.AsSpan(0, Math.Min(length, value.Length)).CopyTo(header.AsSpan(offset, length));

    private static void WriteOctal(byte[] header, int offset, int length, long value)
    {
        var text = Convert.ToString(value, 8).PadLeft(length - 1, '0');
        Encoding.ASCII.GetBytes(text).CopyTo(header, offset);
        header[offset + length - 1] = 0;
    }
}
