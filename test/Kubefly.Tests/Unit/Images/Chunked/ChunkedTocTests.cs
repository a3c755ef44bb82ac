using System.Text;
using Kubefly.Images.Chunked;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Images.Chunked;

/// <summary>The zstd:chunked table of contents and its annotations as untrusted input: each hostile case is refused with its reason.</summary>
public sealed class ChunkedTocTests
{
    private static readonly Digest Checksum = Digest.Compute("toc"u8);
    private static readonly string FileDigest = Digest.Compute("content"u8).ToString();

    [Theory]
    [InlineData("io.github.containers.zstd-chunked.")]
    [InlineData("io.containers.zstd-chunked.")]
    public void Both_annotation_spellings_locate_the_table(string prefix)
    {
        var location = ChunkedTocLocation.From(Layer(prefix, "900:80:400:1", Checksum.ToString()), out var problem);

        Assert.Null(problem);
        Assert.Equal(new ChunkedTocLocation(900, 80, 400, Checksum), location);
    }

    [Fact]
    public void A_layer_without_the_annotations_is_simply_not_chunked()
    {
        Assert.Null(ChunkedTocLocation.From(new Descriptor { Digest = Checksum, Size = 1000 }, out var problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("900:80:400", "sha256:", "not OFFSET:LENGTH:UNCOMPRESSED:1")]
    [InlineData("900:80:400:2", "sha256:", "not OFFSET:LENGTH:UNCOMPRESSED:1")]
    [InlineData("-1:80:400:1", "sha256:", "not OFFSET:LENGTH:UNCOMPRESSED:1")]
    [InlineData("9x0:80:400:1", "sha256:", "not OFFSET:LENGTH:UNCOMPRESSED:1")]
    [InlineData("99999999999999999999:80:400:1", "sha256:", "not OFFSET:LENGTH:UNCOMPRESSED:1")]
    [InlineData("990:80:400:1", "sha256:", "outside the 1000-byte blob")]
    [InlineData("4:80:400:1", "sha256:", "outside the 1000-byte blob")]
    [InlineData("900:0:400:1", "sha256:", "outside the 1000-byte blob")]
    [InlineData("900:80:400:1", "md5:abc", "manifest-checksum annotation is missing or not a sha256 digest")]
    public void Malformed_annotations_are_refused_with_their_reason(string position, string checksum, string expected)
    {
        var digest = checksum == "sha256:" ? Checksum.ToString() : checksum;

        Assert.Null(ChunkedTocLocation.From(Layer("io.containers.zstd-chunked.", position, digest), out var problem));

        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Files_come_out_in_blob_order_with_normalized_paths_and_chunks_and_empty_files_left_out()
    {
        var toc = ChunkedToc.Parse(Utf8(Table(
            Entry("dir", "./app/"),
            Entry("reg", "./app/a", size: 7, offset: 100, end: 150),
            Entry("chunk", "./app/a", offset: 120),
            Entry("reg", "app/empty", size: 0),
            Entry("symlink", "app/link", linkName: "a"),
            Entry("reg", "app/b", size: 3, offset: 200, end: 260))), framesEnd: 1000);

        Assert.Equal(["app/a", "app/b"], toc.Files.Select(f => f.Path));
        Assert.Equal((100, 150), (toc.Files[0].Offset, toc.Files[0].EndOffset));
        Assert.NotEqual(toc.Files[0].Signature, toc.Files[1].Signature);
    }

    [Fact]
    public void The_signature_of_a_file_covers_the_entries_before_it()
    {
        ulong SignatureOfB(string linkTarget) => ChunkedToc.Parse(Utf8(Table(
            Entry("reg", "a", size: 7, offset: 100, end: 150),
            Entry("symlink", "link", linkName: linkTarget),
            Entry("reg", "b", size: 3, offset: 200, end: 260))), framesEnd: 1000).Files[1].Signature;

        Assert.Equal(SignatureOfB("a"), SignatureOfB("a"));
        Assert.NotEqual(SignatureOfB("a"), SignatureOfB("elsewhere"));
    }

    public static TheoryData<string, string> HostileTables => new()
    {
        { "not json", "not valid JSON" },
        { "{\"version\":2,\"entries\":[]}", "not a version 1 table" },
        { "{\"version\":1}", "not a version 1 table" },
        { "null", "not a version 1 table" },
        { Table(Entry("reg", "", size: 1, offset: 10, end: 20)), "name is empty" },
        { Table(Entry("reg", new string('a', 5000), size: 1, offset: 10, end: 20)), "longer than 4096" },
        { Table(Entry("reg", "a", size: 1, offset: 10, end: 10)), "impossible span" },
        { Table(Entry("reg", "a", size: 1, offset: -5, end: 10)), "impossible span" },
        { Table(Entry("reg", "a", size: -1, offset: 10, end: 20)), "impossible span" },
        { Table(Entry("reg", "a", size: 1, offset: 10, end: 5000)), "frames end at 1000" },
        { Table(Entry("reg", "a", size: 1, offset: 10, end: 100), Entry("reg", "b", size: 1, offset: 50, end: 200)), "inside the file before it" },
        { Table(Entry("reg", "a", size: 1, offset: 10, end: 100, digest: "md5:x")), "no sha256 content digest" },
        { Table(Entry("reg", "a", size: 1, offset: 10, end: 100, digest: "")), "no sha256 content digest" },
        { "{\"version\":1,\"entries\":[{\"type\":\"reg\",\"name\":\"a\",\"size\":\"big\"}]}", "not valid JSON" },
        { Deep(100), "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(HostileTables))]
    public void Hostile_tables_are_refused_with_their_reason(string json, string expected)
    {
        var error = Assert.Throws<ChunkedFormatException>(() => ChunkedToc.Parse(Encoding.UTF8.GetBytes(json), framesEnd: 1000));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_table_larger_than_the_limit_is_refused_before_parsing()
    {
        var error = Assert.Throws<ChunkedFormatException>(() => ChunkedToc.Parse(new byte[ChunkedToc.MaxUncompressedBytes + 1], framesEnd: 1000));

        Assert.Contains("limit", error.Message, StringComparison.Ordinal);
    }

    private static Descriptor Layer(string prefix, string position, string checksum) => new()
    {
        Digest = Checksum,
        Size = 1000,
        Annotations = new Dictionary<string, string> { [prefix + "manifest-position"] = position, [prefix + "manifest-checksum"] = checksum },
    };

    private static string Entry(string type, string name, long size = 0, long offset = 0, long end = 0, string? digest = null, string? linkName = null) =>
        $"{{\"type\":\"{type}\",\"name\":\"{name}\",\"size\":{size},\"offset\":{offset},\"endOffset\":{end},\"mode\":420,\"modtime\":\"2020-01-02T03:04:05Z\""
        + (type == "reg" && size > 0 ? $",\"digest\":\"{digest ?? FileDigest}\"" : string.Empty)
        + (linkName is null ? string.Empty : $",\"linkName\":\"{linkName}\"") + "}";

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static string Table(params string[] entries) => "{\"version\":1,\"entries\":[" + string.Join(',', entries) + "]}";

    private static string Deep(int depth) => "{\"version\":1,\"entries\":[{\"type\":\"dir\",\"name\":\"a\",\"xattrs\":" + string.Concat(Enumerable.Repeat("{\"k\":", depth)) + "1" + new string('}', depth) + "}]}";
}
