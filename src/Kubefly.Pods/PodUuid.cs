using System.Diagnostics.CodeAnalysis;

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

    /// <summary>
    /// Guid.NewGuid is a version 4 UUID from the kernel's CSPRNG; RandomNumberGenerator would load and
    /// seed OpenSSL on every pod start for the same 122 random bits.
    /// </summary>
    public static PodUuid NewRandom() => new(Guid.NewGuid().ToString("D"));

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
