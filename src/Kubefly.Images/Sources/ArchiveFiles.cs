using System.Formats.Tar;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;

namespace Kubefly.Images.Sources;

/// <summary>
/// Copies the regular files of an image archive (a tar of an OCI layout, or `docker save` output) into a
/// private directory under opaque names, so nothing in the archive chooses a path on disk. Symlink
/// entries (docker save links duplicate layers) are resolved by name, inside the archive only.
/// </summary>
internal sealed class ArchiveFiles : IDisposable
{
    private const int MaxEntries = 100_000;
    private readonly Dictionary<string, string> _files = new(StringComparer.Ordinal);

    private ArchiveFiles(string directory) => Directory = directory;

    public string Directory { get; }

    public static ArchiveFiles Extract(string archivePath, string scratchDirectory, string description)
    {
        System.IO.Directory.CreateDirectory(scratchDirectory);
        var files = new ArchiveFiles(scratchDirectory);
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var stream = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            using var guarded = new TarHeaderGuard(stream, UnpackLimits.Default.MaxHeaderBytes, reason => new ImageException($"{description}: {reason}"));
            using var reader = new TarReader(guarded);
            var count = 0;
            while (reader.GetNextEntry() is { } entry)
            {
                if (++count > MaxEntries)
                {
                    throw new ImageException($"{description}: more than {MaxEntries} entries");
                }

                var name = Normalize(entry.Name, description);
                switch (entry.EntryType)
                {
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        var target = Path.Combine(scratchDirectory, "f" + files._files.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
                        {
                            entry.DataStream?.CopyTo(output);
                        }

                        files._files[name] = target;
                        break;
                    case TarEntryType.SymbolicLink:
                        var parent = name.Contains('/', StringComparison.Ordinal) ? name[..name.LastIndexOf('/')] : string.Empty;
                        links[name] = Normalize(entry.LinkName.StartsWith('/') ? entry.LinkName : $"{parent}/{entry.LinkName}", description);
                        break;
                    case TarEntryType.HardLink:
                        links[name] = Normalize(entry.LinkName, description);
                        break;
                    default:
                        break;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or OverflowException or ArgumentException or NotSupportedException)
        {
            // TarReader's own messages are bare resource keys in the NativeAOT build: say it in our words.
            files.Dispose();
            throw new ImageException($"{description}: not a valid tar archive ({(e is EndOfStreamException ? "it ends early" : "a malformed header")})", e);
        }
        catch
        {
            files.Dispose();
            throw;
        }

        foreach (var (name, target) in links)
        {
            var resolved = target;
            for (var hops = 0; hops < 16 && links.TryGetValue(resolved, out var next); hops++)
            {
                resolved = next;
            }

            if (files._files.TryGetValue(resolved, out var path))
            {
                files._files[name] = path;
            }
        }

        return files;
    }

    /// <summary>Every regular file by its in-archive name (links resolved to their target's copy).</summary>
    public IReadOnlyDictionary<string, string> Files => _files;

    public bool TryGet(string name, out string path) => _files.TryGetValue(name.TrimStart('.', '/'), out path!);

    public string Get(string name, string description) =>
        TryGet(Normalize(name, description), out var path) ? path : throw new ImageException($"{description}: archive has no file \"{UntrustedText.Printable(name)}\"");

    public void Dispose()
    {
        // A file name from the archive may be of any length or depth: remove by descriptor.
        Kubefly.Linux.TreeRemover.Remove(Directory);
    }

    /// <summary>Lexically normalizes an in-archive name; ".." may not climb above the archive root.</summary>
    private static string Normalize(string name, string description)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    throw new ImageException($"{description}: entry \"{UntrustedText.Printable(name)}\" points outside the archive");
                }

                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }
}
