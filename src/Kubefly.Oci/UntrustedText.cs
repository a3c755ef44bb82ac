namespace Kubefly.Oci;

public static class UntrustedText
{
    /// <summary>Error messages quote untrusted input; keep control characters and length out of the terminal.</summary>
    public static string Printable(string value)
    {
        var trimmed = value.Length > 100 ? value[..100] + "..." : value;
        return string.Create(trimmed.Length, trimmed, static (span, s) =>
        {
            for (var i = 0; i < s.Length; i++)
            {
                span[i] = char.IsControl(s[i]) ? '?' : s[i];
            }
        });
    }
}
