using System.Buffers;
using System.Globalization;
using System.Text;

namespace Kubefly.Linux;

/// <summary>
/// File names are bytes. For a message, valid UTF-8 is shown as is and every other byte, control
/// character and backslash as \xNN, so two different names never print the same and none can drive the
/// terminal (the byte-level twin of Kubefly.Oci.UntrustedText, for names read from the kernel or a tar).
/// </summary>
public static class FileNameText
{
    public static string Printable(ReadOnlySpan<byte> name)
    {
        var builder = new StringBuilder(name.Length);
        while (!name.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(name, out var rune, out var consumed) == OperationStatus.Done && !Rune.IsControl(rune) && rune.Value != '\\')
            {
                builder.Append(rune.ToString());
                name = name[consumed..];
            }
            else
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\x{name[0]:x2}");
                name = name[1..];
            }
        }

        return builder.ToString();
    }
}
