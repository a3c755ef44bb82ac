namespace Kubefly.Oci;

/// <summary>
/// FNV-1a, 64 bits: a fingerprint for names and settings on the warm `run` path, where loading the
/// system's crypto library for SHA-256 alone would cost milliseconds. It tells apart what changed by
/// accident, never what a forger chose.
/// </summary>
public struct Fnv1a()
{
    public ulong Value { get; private set; } = 14695981039346656037UL;

    public void Add(ReadOnlySpan<byte> bytes)
    {
        var value = Value;
        foreach (var b in bytes)
        {
            value = (value ^ b) * 1099511628211UL;
        }

        Value = value;
    }
}
