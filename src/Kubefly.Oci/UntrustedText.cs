using System.Globalization;
using System.Text;

namespace Kubefly.Oci;

/// <summary>
/// The one way kubefly quotes untrusted text in a message (layer entry names, registry headers, file
/// contents, flag values): control characters become \xNN, so nothing from an image or a
/// server can drive the terminal or forge a line in the journal, and the length is bounded, so a hostile
/// 600 MB name never becomes a 600 MB message.
/// </summary>
public static class UntrustedText
{
    /// <summary>Characters kept before "..." (enough for a full image reference or a deep path).</summary>
    public const int MaxLength = 200;

    public static string Printable(string? value, int maxLength = MaxLength)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }

        var builder = new StringBuilder(Math.Min(value.Length, maxLength) + 8);
        foreach (var c in value)
        {
            if (builder.Length >= maxLength)
            {
                builder.Append("...");
                break;
            }

            if (char.IsControl(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
