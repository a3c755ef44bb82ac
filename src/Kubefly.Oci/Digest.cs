using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kubefly.Oci;

/// <summary>
/// A validated content digest, <c>sha256:</c> followed by 64 lowercase hex digits. Because only this
/// form is accepted, a Digest is always safe to use as a file name or in a URL path.
/// </summary>
[JsonConverter(typeof(DigestJsonConverter))]
public readonly record struct Digest
{
    public const string Sha256Algorithm = "sha256";
    private const int Sha256HexLength = 64;

    private Digest(string hex) => Hex = hex;

    public string Algorithm => Sha256Algorithm;

    /// <summary>The 64 lowercase hex digits.</summary>
    public string Hex { get; }

    public bool IsEmpty => Hex is null;

    public static Digest Parse(string value) =>
        TryParse(value, out var digest, out var error) ? digest : throw new ImageException($"invalid digest \"{UntrustedText.Printable(value)}\": {error}");

    public static bool TryParse(string? value, out Digest digest) => TryParse(value, out digest, out _);

    public static bool TryParse(string? value, out Digest digest, [NotNullWhen(false)] out string? error)
    {
        digest = default;
        if (string.IsNullOrEmpty(value))
        {
            error = "empty";
            return false;
        }

        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            error = "expected ALGORITHM:HEX";
            return false;
        }

        var algorithm = value[..colon];
        if (algorithm != Sha256Algorithm)
        {
            error = $"unsupported algorithm \"{UntrustedText.Printable(algorithm)}\" (only sha256)";
            return false;
        }

        var hex = value[(colon + 1)..];
        if (hex.Length != Sha256HexLength || !IsLowerHex(hex))
        {
            error = "sha256 needs 64 lowercase hex digits";
            return false;
        }

        error = null;
        digest = new Digest(hex);
        return true;
    }

    /// <summary>Accepts either "sha256:HEX" or a bare 64-digit hex string.</summary>
    public static bool TryParseLoose(string value, out Digest digest)
    {
        if (value.Length == Sha256HexLength && IsLowerHex(value))
        {
            digest = new Digest(value);
            return true;
        }

        return TryParse(value, out digest);
    }

    public static Digest FromHashBytes(ReadOnlySpan<byte> sha256) =>
        sha256.Length == 32 ? new Digest(Convert.ToHexStringLower(sha256)) : throw new ArgumentException("sha256 hashes are 32 bytes", nameof(sha256));

    public static Digest Compute(ReadOnlySpan<byte> content) => FromHashBytes(SHA256.HashData(content));

    public static Digest Compute(Stream content) => FromHashBytes(SHA256.HashData(content));

    /// <summary>Compares in fixed time, as a digest may be checked against attacker-chosen content.</summary>
    public bool FixedTimeEquals(Digest other) =>
        Hex is not null && other.Hex is not null &&
        CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(Hex), System.Text.Encoding.ASCII.GetBytes(other.Hex));

    public override string ToString() => Hex is null ? string.Empty : $"{Sha256Algorithm}:{Hex}";

    /// <summary>The short form rkt printed in tables: "sha256-0123456789ab".</summary>
    public string ShortId(int hexDigits = 12) => $"{Sha256Algorithm}-{Hex[..Math.Min(hexDigits, Hex.Length)]}";

    private static bool IsLowerHex(string s)
    {
        foreach (var c in s)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }
}

public sealed class DigestJsonConverter : JsonConverter<Digest>
{
    public override Digest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString();
        if (!Digest.TryParse(text, out var digest, out var error))
        {
            throw new JsonException($"invalid digest \"{UntrustedText.Printable(text ?? string.Empty)}\": {error}");
        }

        return digest;
    }

    public override void Write(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
