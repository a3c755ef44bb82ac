using System.Text.RegularExpressions;
using Kubefly.Pods;

namespace Kubefly.Tests.Unit.Pods;

public sealed class PodUuidTests
{
    [Fact]
    public void New_uuids_are_random_version_4_in_rkt_s_form()
    {
        var first = PodUuid.NewRandom();
        var second = PodUuid.NewRandom();

        Assert.Matches(new Regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"), first.Value);
        Assert.NotEqual(first, second);
        Assert.Equal(first.Value[..8], first.Short);
    }

    [Theory]
    [InlineData("6733C088-A507-4694-AABF-EDBE4FC5266F", "6733c088-a507-4694-aabf-edbe4fc5266f")]
    [InlineData("6733c088a5074694aabfedbe4fc5266f", "6733c088-a507-4694-aabf-edbe4fc5266f")]
    public void Parses_the_forms_rkt_accepted(string text, string expected) => Assert.Equal(expected, PodUuid.Parse(text).Value);

    [Theory]
    [InlineData("")]
    [InlineData("6733c088")]
    [InlineData("6733c088-a507-4694-aabf-edbe4fc5266g")]
    [InlineData("6733c088a-507-4694-aabf-edbe4fc5266f")]
    [InlineData("../../../../etc/passwd")]
    public void Rejects_anything_else(string text) => Assert.False(PodUuid.TryParse(text, out _));
}
