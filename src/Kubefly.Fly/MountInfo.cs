using System.Globalization;
using System.Text;

namespace Kubefly.Fly;

/// <summary>One line of /proc/PID/mountinfo (proc(5)); paths are unescaped.</summary>
public sealed record MountInfoEntry(
    int MountId,
    int ParentId,
    string Root,
    string MountPoint,
    string MountOptions,
    IReadOnlyList<string> OptionalFields,
    string FileSystemType,
    string Source,
    string SuperOptions)
{
    /// <summary>A member of a shared peer group ("shared:N").</summary>
    public bool IsShared => OptionalFields.Any(f => f.StartsWith("shared:", StringComparison.Ordinal));

    /// <summary>A slave of some peer group ("master:N").</summary>
    public bool IsSlave => OptionalFields.Any(f => f.StartsWith("master:", StringComparison.Ordinal));

    public bool HasMountOption(string option) => MountOptions.Split(',').Contains(option, StringComparer.Ordinal);
}

/// <summary>Parses mountinfo text; pure, so the planner can be tested with any table.</summary>
public static class MountInfo
{
    public static IReadOnlyList<MountInfoEntry> Parse(string text)
    {
        var entries = new List<MountInfoEntry>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length > 0)
            {
                entries.Add(ParseLine(line));
            }
        }

        return entries;
    }

    /// <summary>The calling thread's view (/proc/thread-self: mount namespaces and roots are per thread here).</summary>
    public static IReadOnlyList<MountInfoEntry> ReadCurrentThread() => Parse(File.ReadAllText("/proc/thread-self/mountinfo"));

    public static MountInfoEntry ParseLine(string line)
    {
        var fields = line.Split(' ');
        var separator = fields.Length < 10 ? -1 : Array.IndexOf(fields, "-", 6);
        if (separator < 0 || fields.Length < separator + 4)
        {
            throw new FlyException($"unparsable mountinfo line: {line}");
        }

        return new MountInfoEntry(
            MountId: int.Parse(fields[0], CultureInfo.InvariantCulture),
            ParentId: int.Parse(fields[1], CultureInfo.InvariantCulture),
            Root: Unescape(fields[3]),
            MountPoint: Unescape(fields[4]),
            MountOptions: fields[5],
            OptionalFields: fields[6..separator],
            FileSystemType: fields[separator + 1],
            Source: Unescape(fields[separator + 2]),
            SuperOptions: fields[separator + 3]);
    }

    /// <summary>The kernel escapes space, tab, newline and backslash as \ooo octal.</summary>
    public static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        var raw = Encoding.UTF8.GetBytes(field);
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && IsOctal(raw, i + 1))
            {
                bytes.Add((byte)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte[] raw, int start)
    {
        if (start + 3 > raw.Length)
        {
            return false;
        }

        for (var i = start; i < start + 3; i++)
        {
            if (raw[i] < '0' || raw[i] > '7')
            {
                return false;
            }
        }

        return true;
    }
}
