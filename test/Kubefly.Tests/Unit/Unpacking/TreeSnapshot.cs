using System.Security.Cryptography;
using System.Text;
using Kubefly.Linux;

namespace Kubefly.Tests.Unit.Unpacking;

/// <summary>What to record about each node of a tree.</summary>
internal sealed record SnapshotOptions
{
    public bool DirectoryTimes { get; init; } = true;

    public bool NonDirectoryTimes { get; init; } = true;

    /// <summary>Only attributes whose name starts with this are recorded (null: none).</summary>
    public string? XattrPrefix { get; init; } = string.Empty;

    public Func<string, bool>? Exclude { get; init; }
}

/// <summary>A byte-for-byte description of a directory tree (types, modes, owners, contents, links, devices, xattrs, times).</summary>
internal static class TreeSnapshot
{
    public static SortedDictionary<string, string> Take(string root, SnapshotOptions? options = null)
    {
        options ??= new SnapshotOptions();
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Walk(root, string.Empty, options, result);
        return result;
    }

    public static string Describe(string path, SnapshotOptions? options = null)
    {
        options ??= new SnapshotOptions();
        var status = Interop.Lstat(path);
        var builder = new StringBuilder();
        builder.Append(TypeName(status.FileType)).Append(' ')
            .Append(Convert.ToString(status.Permissions, 8).PadLeft(4, '0')).Append(' ')
            .Append(status.Uid).Append(':').Append(status.Gid);
        switch (status.FileType)
        {
            case Interop.S_IFREG:
                builder.Append(" size=").Append(status.Size).Append(" sha256=")
                    .Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
                break;
            case Interop.S_IFLNK:
                builder.Append(" -> ").Append(new FileInfo(path).LinkTarget);
                break;
            case Interop.S_IFCHR or Interop.S_IFBLK:
                builder.Append(" dev=").Append(status.RdevMajor).Append(':').Append(status.RdevMinor);
                break;
        }

        var times = status.IsDirectory ? options.DirectoryTimes : options.NonDirectoryTimes;
        if (times)
        {
            builder.Append(" mtime=").Append(status.ModifySeconds).Append('.').Append(status.ModifyNanoseconds.ToString("D9"));
        }

        if (options.XattrPrefix is not null && !status.IsSymbolicLink)
        {
            foreach (var name in Interop.ListXattrsNoFollow(path).Where(n => n.StartsWith(options.XattrPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            {
                builder.Append(" xattr:").Append(name).Append('=')
                    .Append(Convert.ToHexStringLower(Interop.GetXattrNoFollow(path, name) ?? []));
            }
        }

        return builder.ToString();
    }

    private static void Walk(string root, string relative, SnapshotOptions options, SortedDictionary<string, string> result)
    {
        var directory = relative.Length == 0 ? root : Path.Combine(root, relative);
        foreach (var child in Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            var childRelative = relative.Length == 0 ? child! : $"{relative}/{child}";
            if (options.Exclude?.Invoke(childRelative) == true)
            {
                continue;
            }

            var full = Path.Combine(root, childRelative);
            result[childRelative] = Describe(full, options);
            if (Interop.Lstat(full).IsDirectory)
            {
                Walk(root, childRelative, options, result);
            }
        }
    }

    private static string TypeName(uint type) => type switch
    {
        Interop.S_IFREG => "file",
        Interop.S_IFDIR => "dir",
        Interop.S_IFLNK => "symlink",
        Interop.S_IFCHR => "chardev",
        Interop.S_IFBLK => "blockdev",
        Interop.S_IFIFO => "fifo",
        Interop.S_IFSOCK => "socket",
        _ => "unknown",
    };

    public static string Diff(IReadOnlyDictionary<string, string> expected, IReadOnlyDictionary<string, string> actual)
    {
        var lines = new List<string>();
        foreach (var (path, description) in expected)
        {
            if (!actual.TryGetValue(path, out var other))
            {
                lines.Add($"- {path}: {description}");
            }
            else if (other != description)
            {
                lines.Add($"~ {path}: expected {description}\n      actual   {other}");
            }
        }

        foreach (var (path, description) in actual)
        {
            if (!expected.ContainsKey(path))
            {
                lines.Add($"+ {path}: {description}");
            }
        }

        return string.Join('\n', lines);
    }
}
