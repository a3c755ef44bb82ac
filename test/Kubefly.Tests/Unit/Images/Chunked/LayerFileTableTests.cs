using Kubefly.Images.Chunked;
using Kubefly.Images.Unpacking;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Images.Chunked;

/// <summary>The per-layer file table: an index only, so every kind of damage reads as "no table", with the reason.</summary>
public sealed class LayerFileTableTests : IDisposable
{
    private readonly TempDirectory _dir = new("kubefly-filetable");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Files_round_trip_in_order_with_prefixes_and_signatures()
    {
        var files = new List<LayerFile>
        {
            new("usr/bin/a", 5, Digest.Compute("aaaaa"u8)) { Prefix = [1, 2, 3], Signature = 42 },
            new("ünïcode/b", 0, Digest.Compute([])) { Prefix = null, Signature = 7 },
            new("c", 9, Digest.Compute("c"u8)) { Prefix = new byte[LayerFile.MaxPrefixBytes], Signature = ulong.MaxValue },
        };
        var path = _dir.Combine("table");
        LayerFileTable.Write(path, files);

        var read = LayerFileTable.Read(path, out var problem);

        Assert.Null(problem);
        Assert.NotNull(read);
        Assert.Equal(files.Select(f => (f.Path, f.Size, f.Digest, f.Signature)), read.Select(f => (f.Path, f.Size, f.Digest, f.Signature)));
        Assert.Equal([1, 2, 3], read[0].Prefix);
        Assert.Null(read[1].Prefix);
        Assert.Equal(LayerFile.MaxPrefixBytes, read[2].Prefix!.Length);
    }

    [Fact]
    public void A_missing_table_is_no_table_without_a_complaint()
    {
        Assert.Null(LayerFileTable.Read(_dir.Combine("absent"), out var problem));
        Assert.Null(problem);
    }

    public static TheoryData<string, string> Damage => new()
    {
        { "magic", "is not a layer file table of this version" },
        { "truncated-record", "is truncated" },
        { "prefix-length", "is damaged" },
        { "name-length", "is damaged" },
        { "zstd", "layer file table" },
        { "empty", "is not a layer file table of this version" },
    };

    [Theory]
    [MemberData(nameof(Damage))]
    public void A_damaged_table_is_ignored_with_its_reason(string damage, string expected)
    {
        var path = _dir.Combine("table");
        var magic = "kubefly-layer-files 2\n"u8.ToArray();
        byte[] Compressed(byte[] records)
        {
            using var compressor = new ZstdSharp.Compressor(3);
            return [.. magic, .. compressor.Wrap(records)];
        }

        var record = new byte[52 + 2 + 1];
        BitConverter.TryWriteBytes(record.AsSpan(32), 1L);
        BitConverter.TryWriteBytes(record.AsSpan(48), 0);
        BitConverter.TryWriteBytes(record.AsSpan(52), (ushort)1);
        record[54] = (byte)'a';
        File.WriteAllBytes(path, damage switch
        {
            "magic" => [.. "kubefly-layer-files 1\n"u8, .. record],
            "truncated-record" => Compressed(record[..40]),
            "prefix-length" => Compressed([.. record[..48], .. BitConverter.GetBytes(LayerFile.MaxPrefixBytes + 1), .. record[52..]]),
            "name-length" => Compressed([.. record[..52], .. BitConverter.GetBytes((ushort)500), (byte)'a']),
            "zstd" => [.. magic, 0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff],
            _ => [],
        });

        var read = LayerFileTable.Read(path, out var problem);

        Assert.Null(read);
        Assert.True(problem?.Contains(expected, StringComparison.Ordinal), problem);
        Assert.Contains(path, problem, StringComparison.Ordinal);
    }
}
