using System.Text;

namespace Kubefly.Images.Unpacking;

/// <summary>
/// Lexical clean-up of tar entry and hardlink names into a root-relative form ("" is the root itself).
/// This is not the containment check (the kernel's RESOLVE_IN_ROOT is); it rejects what has no
/// meaning in a layer: NUL, ".." components, over-long names.
/// </summary>
internal static class EntryPath
{
    public const string WhiteoutPrefix = ".wh.";
    public const string OpaqueMarker = ".wh..wh..opq";

    private const int MaxComponentBytes = 255;

    /// <summary>Normalizes <paramref name="raw"/>, or says why it cannot be used.</summary>
    public static bool TryNormalize(string raw, int maxLength, out string normalized, out string? problem)
    {
        normalized = string.Empty;
        if (raw.Length > maxLength)
        {
            problem = $"name longer than {maxLength} characters";
            return false;
        }

        if (raw.Contains('\0'))
        {
            problem = "name contains a NUL byte";
            return false;
        }

        // Fast path: already clean (no leading "/" or "./", no "//", no "." or ".." components, no trailing "/").
        if (IsClean(raw))
        {
            normalized = raw;
            problem = CheckComponentLengths(raw);
            return problem is null;
        }

        var builder = new StringBuilder(raw.Length);
        foreach (var component in raw.Split('/'))
        {
            if (component.Length == 0 || component == ".")
            {
                continue;
            }

            if (component == "..")
            {
                problem = "name has a \"..\" component";
                return false;
            }

            if (builder.Length > 0)
            {
                builder.Append('/');
            }

            builder.Append(component);
        }

        normalized = builder.ToString();
        problem = CheckComponentLengths(normalized);
        return problem is null;
    }

    /// <summary>Splits a normalized non-root path into its parent ("" for the root) and final component.</summary>
    public static (string Parent, string Name) Split(string normalized)
    {
        var slash = normalized.LastIndexOf('/');
        return slash < 0 ? (string.Empty, normalized) : (normalized[..slash], normalized[(slash + 1)..]);
    }

    public static string Join(string parent, string name) => parent.Length == 0 ? name : $"{parent}/{name}";

    private static bool IsClean(string path)
    {
        if (path.Length == 0 || path[0] == '/' || path[^1] == '/')
        {
            return false;
        }

        var start = 0;
        while (start <= path.Length)
        {
            var end = path.IndexOf('/', start);
            if (end < 0)
            {
                end = path.Length;
            }

            var length = end - start;
            if (length == 0 || (length == 1 && path[start] == '.') || (length == 2 && path[start] == '.' && path[start + 1] == '.'))
            {
                return false;
            }

            start = end + 1;
        }

        return true;
    }

    private static string? CheckComponentLengths(string normalized)
    {
        if (normalized.Length <= MaxComponentBytes / 4)
        {
            return null;
        }

        foreach (var component in normalized.Split('/'))
        {
            if (Encoding.UTF8.GetByteCount(component) > MaxComponentBytes)
            {
                return $"a name component is longer than {MaxComponentBytes} bytes";
            }
        }

        return null;
    }
}
