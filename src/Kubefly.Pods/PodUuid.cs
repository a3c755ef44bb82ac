using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Kubefly.Pods;

/// <summary>
/// A pod's identity: a random (version 4) UUID written the way rkt wrote it, 36 lowercase characters
/// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". Only that form is accepted, so it is always safe as a directory name.
/// </summary>
public readonly record struct PodUuid
{
    public const int Length = 36;
    public const int ShortLength = 8;

    private PodUuid(string value) => Value = value;

    public string Value { get; }

    /// <summary>The 8-character prefix `list` shows without --full.</summary>
    public string Short => Value[..ShortLength];

    public static PodUuid NewRandom()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        bytes[6] = (byte)((bytes[6] & 0x0f) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3f) | 0x80);
        var hex = Convert.ToHexStringLower(bytes);
        return new PodUuid($"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}");
    }

    /// <summary>Accepts the canonical form in any case, or 32 hex digits without dashes (as rkt did).</summary>
    public static bool TryParse(string? text, out PodUuid uuid)
    {
        uuid = default;
        if (text is null)
        {
            return false;
        }

        var hex = text.Replace("-", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
        if (hex.Length != 32 || !hex.All(char.IsAsciiHexDigitLower))
        {
            return false;
        }

        if (text.Length == Length && (text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-'))
        {
            return false;
        }

        if (text.Length != Length && text.Length != 32)
        {
            return false;
        }

        uuid = new PodUuid($"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}");
        return true;
    }

    public static PodUuid Parse(string text) =>
        TryParse(text, out var uuid) ? uuid : throw new FormatException($"invalid pod UUID \"{text}\"");

    [SuppressMessage("Design", "CA1065", Justification = "a default PodUuid is a programming error")]
    public override string ToString() => Value ?? throw new InvalidOperationException("uninitialised PodUuid");
}
