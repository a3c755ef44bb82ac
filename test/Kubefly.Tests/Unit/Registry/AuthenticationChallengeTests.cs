using Kubefly.Images.Registry;

namespace Kubefly.Tests.Unit.Registry;

public sealed class AuthenticationChallengeTests
{
    [Fact]
    public void Parses_a_distribution_bearer_challenge()
    {
        var challenge = Assert.Single(AuthenticationChallenge.Parse(
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\""));

        Assert.True(challenge.IsBearer);
        Assert.Equal("https://auth.docker.io/token", challenge.Realm);
        Assert.Equal("registry.docker.io", challenge.Service);
        Assert.Equal(["repository:library/busybox:pull"], challenge.Scopes);
    }

    [Fact]
    public void Quoted_values_keep_commas_spaces_and_escaped_quotes()
    {
        var challenge = Assert.Single(AuthenticationChallenge.Parse(
            "Bearer realm=\"https://a.example/t?x=1,2\" , service=\"svc, with \\\"quotes\\\"\",error=\"insufficient_scope\""));

        Assert.Equal("https://a.example/t?x=1,2", challenge.Realm);
        Assert.Equal("svc, with \"quotes\"", challenge.Service);
        Assert.Equal("insufficient_scope", challenge["error"]);
    }

    [Fact]
    public void Several_space_separated_scopes_and_host_port_names_stay_whole()
    {
        var challenge = Assert.Single(AuthenticationChallenge.Parse(
            "Bearer realm=\"http://127.0.0.1:5001/token\",scope=\"repository:127.0.0.1:5000/ns/app:pull repository:other:pull,push\""));

        Assert.Equal(["repository:127.0.0.1:5000/ns/app:pull", "repository:other:pull,push"], challenge.Scopes);
    }

    [Fact]
    public void Parameter_names_are_case_insensitive_and_unquoted_values_allowed()
    {
        var challenge = Assert.Single(AuthenticationChallenge.Parse("basic Realm=registry, charset=UTF-8"));

        Assert.True(challenge.IsBasic);
        Assert.Equal("registry", challenge.Realm);
        Assert.Equal("UTF-8", challenge["CHARSET"]);
    }

    [Fact]
    public void Several_challenges_in_one_header_are_all_read()
    {
        var challenges = AuthenticationChallenge.Parse("Negotiate abc==, Basic realm=\"r, 1\", Bearer realm=\"https://t/token\",service=\"s\"");

        Assert.Equal(["Negotiate", "Basic", "Bearer"], challenges.Select(c => c.Scheme));
        Assert.Equal("abc==", challenges[0].Token68);
        Assert.Equal("r, 1", challenges[1].Realm);
        Assert.Equal("s", challenges[2].Service);
    }

    [Fact]
    public void A_bare_scheme_has_no_parameters()
    {
        var challenge = Assert.Single(AuthenticationChallenge.Parse("Basic"));

        Assert.True(challenge.IsBasic);
        Assert.Empty(challenge.Parameters);
        Assert.Null(challenge.Realm);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ,  ")]
    public void Empty_headers_have_no_challenges(string header) => Assert.Empty(AuthenticationChallenge.Parse(header));

    [Fact]
    public void An_unterminated_quote_reads_to_the_end_without_failing()
    {
        var challenge = Assert.Single(AuthenticationChallenge.Parse("Bearer realm=\"https://t/token"));

        Assert.Equal("https://t/token", challenge.Realm);
    }
}
