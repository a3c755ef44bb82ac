using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;

namespace Kubefly.Images.Chunked;

/// <summary>Where a zstd:chunked layer keeps its table of contents, as its descriptor's annotations say.</summary>
/// <param name="Offset">Start of the compressed table inside the blob (after its skippable-frame header).</param>
/// <param name="Length">Compressed length.</param>
/// <param name="UncompressedLength">What it decompresses to.</param>
/// <param name="Checksum">The digest of the compressed bytes.</param>
public sealed record ChunkedTocLocation(long Offset, long Length, long UncompressedLength, Digest Checksum)
{
    // containers/storage writes two spellings: the io.github.containers one today, the io.containers
    // one in the releases Debian ships (skopeo 1.9).
    private static readonly string[] Prefixes = ["io.github.containers.zstd-chunked.", "io.containers.zstd-chunked."];

    /// <summary>The only table format there is: containers/storage's "CRFS" manifest type.</summary>
    private const int ManifestTypeCrfs = 1;

    /// <summary>The 8-byte header of the skippable frame that wraps the table.</summary>
    public const int SkippableFrameHeaderLength = 8;

    /// <summary>
    /// The table's location when <paramref name="layer"/> carries the zstd:chunked annotations; null
    /// with <paramref name="problem"/> unset when it does not; null with a problem when they are malformed.
    /// </summary>
    public static ChunkedTocLocation? From(Descriptor layer, out string? problem)
    {
        problem = null;
        foreach (var prefix in Prefixes)
        {
            var annotations = layer.Annotations;
            if (annotations?.GetValueOrDefault(prefix + "manifest-position") is not { } position)
            {
                continue;
            }

            if (annotations.GetValueOrDefault(prefix + "manifest-checksum") is not { } checksumText || !Digest.TryParse(checksumText, out var checksum, out _))
            {
                problem = $"its {prefix}manifest-checksum annotation is missing or not a sha256 digest";
                return null;
            }

            var fields = position.Split(':');
            if (fields.Length != 4
                || !TryParseCount(fields[0], out var offset) || !TryParseCount(fields[1], out var length)
                || !TryParseCount(fields[2], out var uncompressed) || fields[3] != ManifestTypeCrfs.ToString(CultureInfo.InvariantCulture))
            {
                problem = $"its {prefix}manifest-position annotation \"{UntrustedText.Printable(position)}\" is not OFFSET:LENGTH:UNCOMPRESSED:1";
                return null;
            }

            if (offset < SkippableFrameHeaderLength || length == 0 || offset > layer.Size || length > layer.Size - offset)
            {
                problem = $"its table of contents ({offset}+{length}) lies outside the {layer.Size}-byte blob";
                return null;
            }

            return new ChunkedTocLocation(offset, length, uncompressed, checksum);
        }

        return null;
    }

    private static bool TryParseCount(string text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 0;
}

/// <summary>One regular file's content in a zstd:chunked blob: the compressed bytes [Offset, EndOffset), whole zstd frames.</summary>
/// <param name="Name">The entry's name as the table gives it.</param>
/// <param name="Path">The name normalized as the unpacker stores it.</param>
/// <param name="Signature">The signature digest of the entries from the previous file's content on, this one's included (see <see cref="EntrySignature"/>).</param>
public readonly record struct ChunkedFile(string Name, string Path, long Size, Digest Digest, long Offset, long EndOffset, ulong Signature);

/// <summary>
/// A zstd:chunked table of contents, read as untrusted input: its size, entry count and names are
/// bounded, and the file spans it lists must be sorted, disjoint and inside the blob's frames, or it is
/// refused (the layer is then fetched whole).
/// </summary>
public sealed class ChunkedToc
{
    public const long MaxUncompressedBytes = 64L << 20;
    public const int MaxEntries = 1_000_000;
    public const int MaxNameLength = 4096;

    private ChunkedToc(IReadOnlyList<ChunkedFile> files) => Files = files;

    /// <summary>Regular files with content, in blob order.</summary>
    public IReadOnlyList<ChunkedFile> Files { get; }

    /// <summary>
    /// Parses the decompressed table. <paramref name="framesEnd"/> is where the tar's frames end (the
    /// table's skippable frame starts there): no file may reach past it.
    /// </summary>
    public static ChunkedToc Parse(ReadOnlySpan<byte> json, long framesEnd)
    {
        if (json.Length > MaxUncompressedBytes)
        {
            throw new ChunkedFormatException($"the table of contents is {json.Length} bytes (limit {MaxUncompressedBytes})");
        }

        TocDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(json, ChunkedTocJsonContext.Default.TocDocument);
        }
        catch (JsonException e)
        {
            throw new ChunkedFormatException($"the table of contents is not valid JSON ({UntrustedText.Printable(e.Message)})");
        }

        if (document is null || document.Version != 1 || document.Entries is null)
        {
            throw new ChunkedFormatException("the table of contents is not a version 1 table with entries");
        }

        if (document.Entries.Count > MaxEntries)
        {
            throw new ChunkedFormatException($"the table of contents lists {document.Entries.Count} entries (limit {MaxEntries})");
        }

        var files = new List<ChunkedFile>();
        long previousEnd = 0;
        using var signatures = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var entry in document.Entries)
        {
            if (entry.Name is not { Length: > 0 and <= MaxNameLength } name)
            {
                throw new ChunkedFormatException($"an entry's name is empty or longer than {MaxNameLength} characters");
            }

            if (entry.Type == "chunk")
            {
                // A later piece of the file before it, inside that file's span.
                continue;
            }

            var path = EntryPath.TryNormalize(name, MaxNameLength, out var normalized, out _) ? normalized : name;
            var isReg = entry.Type == "reg";
            new EntrySignature(entry.Type ?? string.Empty, path, entry.Mode, entry.Uid, entry.Gid, ModTimeSeconds(entry.ModTime), isReg ? entry.Size : 0, entry.LinkName ?? string.Empty).AppendTo(signatures);
            if (!isReg || entry.Size == 0)
            {
                // Directories, links and empty files have no content frames.
                continue;
            }

            var what = $"file \"{UntrustedText.Printable(name)}\"";
            if (entry.Size < 0 || entry.Offset < 0 || entry.EndOffset <= entry.Offset || entry.EndOffset > framesEnd)
            {
                throw new ChunkedFormatException($"{what} has an impossible span ({entry.Offset}..{entry.EndOffset}, size {entry.Size}) in a blob whose frames end at {framesEnd}");
            }

            if (entry.Offset < previousEnd)
            {
                throw new ChunkedFormatException($"{what} starts at {entry.Offset}, inside the file before it (which ends at {previousEnd})");
            }

            if (!Digest.TryParse(entry.Digest, out var digest, out _))
            {
                throw new ChunkedFormatException($"{what} has no sha256 content digest");
            }

            files.Add(new ChunkedFile(name, path, entry.Size, digest, entry.Offset, entry.EndOffset, EntrySignature.Finish(signatures)));
            previousEnd = entry.EndOffset;
        }

        return new ChunkedToc(files);
    }

    private static long ModTimeSeconds(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time.ToUnixTimeSeconds() : long.MinValue;

    internal sealed class TocDocument
    {
        [JsonPropertyName("version")]
        public int Version { get; init; }

        [JsonPropertyName("entries")]
        public List<TocEntry>? Entries { get; init; }
    }

    internal sealed class TocEntry
    {
        [JsonPropertyName("type")]
        public string? Type { get; init; }

        [JsonPropertyName("name")]
        public string? Name { get; init; }

        [JsonPropertyName("size")]
        public long Size { get; init; }

        [JsonPropertyName("digest")]
        public string? Digest { get; init; }

        [JsonPropertyName("offset")]
        public long Offset { get; init; }

        [JsonPropertyName("endOffset")]
        public long EndOffset { get; init; }

        [JsonPropertyName("mode")]
        public int Mode { get; init; }

        [JsonPropertyName("uid")]
        public long Uid { get; init; }

        [JsonPropertyName("gid")]
        public long Gid { get; init; }

        [JsonPropertyName("modtime")]
        public string? ModTime { get; init; }

        [JsonPropertyName("linkName")]
        public string? LinkName { get; init; }
    }
}

/// <summary>A zstd:chunked layer that cannot be pulled partially; the message says why, and the layer is fetched whole.</summary>
public sealed class ChunkedFormatException(string message) : IOException(message);

[JsonSourceGenerationOptions(MaxDepth = 16)]
[JsonSerializable(typeof(ChunkedToc.TocDocument))]
internal sealed partial class ChunkedTocJsonContext : JsonSerializerContext;
