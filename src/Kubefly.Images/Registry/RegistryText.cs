namespace Kubefly.Images.Registry;

internal static class RegistryText
{
    /// <summary>Messages quote untrusted input (server headers, file contents): no control characters, bounded length.</summary>
    public static string Printable(string? value)
    {
        if (value is null)
        {
            return string.Empty;
        }

        var trimmed = value.Length > 200 ? value[..200] + "..." : value;
        return string.Create(trimmed.Length, trimmed, static (span, s) =>
        {
            for (var i = 0; i < s.Length; i++)
            {
                span[i] = char.IsControl(s[i]) ? '?' : s[i];
            }
        });
    }
}
