using System.Text;
using Kubefly.Linux;
using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Oci;

/// <summary>The one sanitizer for untrusted text in messages, and its byte-level twin for file names.</summary>
public sealed class UntrustedTextTests
{
    [Theory]
    [InlineData("quay.io/coreos/etcd:v3", "quay.io/coreos/etcd:v3")]
    [InlineData("a\u001b[2Jb", "a\\x1b[2Jb")]
    [InlineData("line\nforged: ok", "line\\x0aforged: ok")]
    [InlineData("nul\0end", "nul\\x00end")]
    [InlineData("ünïcödé", "ünïcödé")]
    [InlineData(null, "")]
    [InlineData("", "")]
    public void Control_characters_become_escapes_and_the_rest_is_kept(string? input, string expected) =>
        Assert.Equal(expected, UntrustedText.Printable(input));

    [Fact]
    public void A_huge_value_is_cut_at_the_bound()
    {
        var printed = UntrustedText.Printable(new string('a', 600_000_000 / 1000));

        Assert.Equal(UntrustedText.MaxLength + 3, printed.Length);
        Assert.EndsWith("...", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void Escapes_count_toward_the_bound()
    {
        var printed = UntrustedText.Printable(new string('\u0007', 1000), maxLength: 20);

        Assert.True(printed.Length <= 20 + 4 + 3, printed);
    }

    [Fact]
    public void Different_non_utf8_names_never_print_the_same()
    {
        var one = FileNameText.Printable([.. "bad"u8, 0xff, 0xfe, .. "name"u8]);
        var other = FileNameText.Printable([.. "bad"u8, 0xfd, 0xfc, .. "name"u8]);

        Assert.Equal("bad\\xff\\xfename", one);
        Assert.Equal("bad\\xfd\\xfcname", other);
    }

    [Fact]
    public void A_backslash_in_a_name_is_escaped_so_it_cannot_pose_as_an_escape() =>
        Assert.Equal("a\\x5cxffb", FileNameText.Printable(Encoding.UTF8.GetBytes("a\\xffb")));

    [Fact]
    public void Utf8_names_with_control_characters_escape_only_those() =>
        Assert.Equal("日本\\x0a語", FileNameText.Printable(Encoding.UTF8.GetBytes("日本\n語")));
}
