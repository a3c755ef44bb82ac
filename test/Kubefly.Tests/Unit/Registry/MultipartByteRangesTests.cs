using System.Text;
using Kubefly.Images.Registry;
using Kubefly.Images.Sources;

namespace Kubefly.Tests.Unit.Registry;

/// <summary>Range answers as untrusted input: exactly the ranges asked for, each once, or a refusal (the layer is then fetched whole).</summary>
public sealed class MultipartByteRangesTests
{
    private const long BlobSize = 1000;
    private static readonly ByteRange[] Asked = [new(0, 4), new(10, 13)];

    [Fact]
    public async Task Every_part_lands_at_its_offset()
    {
        var written = new SortedDictionary<long, string>();
        var read = await ReadAsync(Body(Part("0-3", "abcd"), Part("10-12", "xyz"), "--B--\r\n"), written);

        Assert.Equal(new Dictionary<long, string> { [0] = "abcd", [10] = "xyz" }, written);
        Assert.True(read > 7);
    }

    [Fact]
    public async Task A_single_part_answer_uses_its_content_range()
    {
        var written = new SortedDictionary<long, string>();
        await MultipartByteRanges.ReadSinglePartAsync(new MemoryStream("xyz"u8.ToArray()), "bytes 10-12/1000", BlobSize, [new ByteRange(10, 13)], Sink(written), CancellationToken.None);

        Assert.Equal("xyz", written[10]);
    }

    public static TheoryData<string, string> HostileAnswers => new()
    {
        { Body(Part("0-3", "abcd"), "--B--\r\n"), "left out 1 of the ranges" },
        { Body(Part("0-3", "abcd"), Part("0-3", "abcd"), "--B--\r\n"), "not asked for (or was sent twice)" },
        { Body(Part("0-9", "abcdefghij"), "--B--\r\n"), "not asked for" },
        { Body(Part("0-3", "abcd", total: "2000"), "--B--\r\n"), "unexpected Content-Range" },
        { Body(Part("0-3", "ab")), "ends without its closing boundary" },
        { Body(Part("0-3", "abcd"), "junk\r\n"), "no boundary after a part" },
        { Body("--B\r\nContent-Type: x\r\n\r\nabcd\r\n--B--\r\n"), "no byte Content-Range" },
        { "--B\r\nContent-Range: bytes 0-3/1000\r\n\r\nab", "ends inside range 0-3" },
        { "preamble\r\n" + new string('x', 5000) + "\r\n", "longer than 4096 bytes" },
        { string.Concat(Enumerable.Repeat("noise\r\n", 40)), "no first boundary" },
        { "--B\r\n" + string.Concat(Enumerable.Repeat("X-Header: y\r\n", 40)) + "\r\n", "more than 16 header lines" },
        { Body(Part("0-3", "abcdEXTRA"), "--B--\r\n"), "longer than its Content-Range" },
        { string.Empty, "no first boundary" },
    };

    [Theory]
    [MemberData(nameof(HostileAnswers))]
    public async Task Hostile_answers_are_refused_with_their_reason(string body, string expected)
    {
        var error = await Assert.ThrowsAsync<RangeAnswerException>(() => ReadAsync(body, []));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static Task<long> ReadAsync(string body, SortedDictionary<long, string> written) =>
        MultipartByteRanges.ReadMultipartAsync(new MemoryStream(Encoding.Latin1.GetBytes(body)), "B", BlobSize, Asked, Sink(written), CancellationToken.None);

    private static Func<long, ReadOnlyMemory<byte>, CancellationToken, ValueTask> Sink(SortedDictionary<long, string> written) =>
        (offset, bytes, _) =>
        {
            written[offset] = Encoding.Latin1.GetString(bytes.Span);
            return ValueTask.CompletedTask;
        };

    private static string Part(string range, string content, string total = "1000") =>
        $"--B\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {range}/{total}\r\n\r\n{content}\r\n";

    private static string Body(params string[] parts) => string.Concat(parts);
}
