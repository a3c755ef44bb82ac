using Kubefly.Images.Unpacking;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Unpacking;

/// <summary>
/// A unique temporary directory holding <c>root/</c> (what a layer unpacks into) next to <c>sentinel/</c>,
/// a known tree that no layer may touch: symlinks and names in hostile layers point at it.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class UnpackSandbox : IDisposable
{
    public const string SentinelFileContent = "sentinel-target\n";
    public const int SentinelFileMode = 0b110_100_000;

    public UnpackSandbox()
    {
        Id = Guid.NewGuid().ToString("N")[..12];
        Base = Path.Combine(Path.GetTempPath(), $"kubefly-unpack-{Id}");
        Root = Path.Combine(Base, "root");
        Sentinel = Path.Combine(Base, "sentinel");
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Path.Combine(Sentinel, "dir", "nested"));
        File.WriteAllText(SentinelFile, SentinelFileContent);
        File.SetUnixFileMode(SentinelFile, (UnixFileMode)SentinelFileMode);
        File.WriteAllText(Path.Combine(Sentinel, "dir", "inner-file"), "inner\n");
        File.WriteAllText(Path.Combine(Sentinel, "dir", "nested", "deep-file"), "deep\n");
        File.SetUnixFileMode(Path.Combine(Sentinel, "dir"), (UnixFileMode)0b111_101_000);
        File.CreateSymbolicLink(Path.Combine(Sentinel, "link-to-target"), SentinelFile);
    }

    public string Id { get; }

    public string Base { get; }

    public string Root { get; }

    public string Sentinel { get; }

    /// <summary>Absolute path of a file outside the root that hostile symlinks aim at.</summary>
    public string SentinelFile => Path.Combine(Sentinel, "target-file");

    /// <summary>Everything in the sandbox but the root: what must stay byte-for-byte identical.</summary>
    public SortedDictionary<string, string> SnapshotOutside() =>
        TreeSnapshot.Take(Base, new SnapshotOptions { Exclude = path => path == "root" || path.StartsWith("root/", StringComparison.Ordinal) });

    public string InRoot(string relative) => Path.Combine(Root, relative.TrimStart('/'));

    public UnpackStatistics Unpack(byte[] tar, UnpackMode mode, UnpackLimits? limits = null, List<string>? warnings = null, LayerCompression? compression = null)
    {
        limits ??= UnpackLimits.Default;
        var unpacker = new LayerUnpacker(mode, limits, warnings is null ? null : warnings.Add);
        using var blob = new MemoryStream(tar);
        using var stream = compression is null ? blob : LayerDecompression.Open(blob, compression.Value, Description, limits.MaxTotalBytes);
        var statistics = unpacker.Unpack(stream, Root, Description, CancellationToken.None);

        // As the puller does: read to the end to verify the digest (padding, trailing data, the rest of a bomb).
        stream.CopyTo(Stream.Null);
        return statistics;
    }

    public string Description => $"sha256:test-{Id}";

    public void Dispose()
    {
        try
        {
            Directory.Delete(Base, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
