using System.Text;
using Kubefly.Images.Registry;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Unit.Registry;

public sealed class CredentialStoreTests : IDisposable
{
    private readonly string _directory = TestPorts.NewTempDirectory("credentials");

    public void Dispose() => TestPorts.DeleteDirectory(_directory);

    /// <summary>Regression: every request re-read and re-parsed every credential file.</summary>
    [Fact]
    public void Each_file_is_read_once_per_store()
    {
        var file = Write("auth.json", Auths(("quay.io", "before", "p")));
        var store = new CredentialStore([file]);

        Assert.Equal("before", store.Find("quay.io", "ns/app")!.Username);
        File.WriteAllText(file, Auths(("quay.io", "after", "p")));

        Assert.Equal("before", store.Find("quay.io", "other/app")!.Username);
        Assert.Equal("after", new CredentialStore([file]).Find("quay.io", "ns/app")!.Username);
    }

    [Fact]
    public void A_credentials_file_over_a_mebibyte_is_refused_without_reading_it_all()
    {
        var file = Path.Combine(_directory, "huge.json");
        using (var stream = File.Create(file))
        {
            stream.SetLength(64L << 20);
        }

        var error = Assert.Throws<ImageException>(() => new CredentialStore([file]).Find("quay.io", "ns/app"));

        Assert.Contains($"registry credentials file {file} is larger than 1 MiB", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_first_file_holding_the_registry_wins()
    {
        var first = Write("first.json", Auths(("other.example", "x", "y")));
        var second = Write("second.json", Auths(("quay.io", "second", "p2")));
        var third = Write("third.json", Auths(("quay.io", "third", "p3")));
        var store = new CredentialStore([Path.Combine(_directory, "missing.json"), first, second, third]);

        var credentials = store.Find("quay.io", "ns/app");

        Assert.Equal(new RegistryCredentials("second", "p2", second), credentials);
    }

    [Fact]
    public void The_most_specific_key_wins_inside_a_file()
    {
        var file = Write("auth.json", Auths(("quay.io", "host", "1"), ("quay.io/ns", "namespace", "2"), ("quay.io/ns/app", "repository", "3")));
        var store = new CredentialStore([file]);

        Assert.Equal("repository", store.Find("quay.io", "ns/app")!.Username);
        Assert.Equal("namespace", store.Find("quay.io", "ns/other")!.Username);
        Assert.Equal("host", store.Find("quay.io", "elsewhere/app")!.Username);
        Assert.Null(store.Find("quay.io:8443", "ns/app"));
    }

    [Fact]
    public void A_more_specific_key_in_a_later_file_does_not_beat_an_earlier_file()
    {
        var first = Write("first.json", Auths(("quay.io", "early", "1")));
        var second = Write("second.json", Auths(("quay.io/ns/app", "late", "2")));
        var store = new CredentialStore([first, second]);

        Assert.Equal("early", store.Find("quay.io", "ns/app")!.Username);
    }

    [Fact]
    public void Docker_legacy_url_keys_and_docker_hub_names_match()
    {
        var file = Write("config.json", Auths(("https://index.docker.io/v1/", "hubuser", "hubpass"), ("http://127.0.0.1:5000/v2/", "local", "pw")));
        var store = new CredentialStore([file]);

        Assert.Equal("hubuser", store.Find("docker.io", "library/busybox")!.Username);
        Assert.Equal("hubuser", store.Find("registry-1.docker.io", "library/busybox")!.Username);
        Assert.Equal("local", store.Find("127.0.0.1:5000", "ns/app")!.Username);
    }

    [Fact]
    public void Username_and_password_fields_work_and_passwords_may_hold_colons()
    {
        var file = Write("auth.json", """{"auths": {"a.example": {"username": "u", "password": "p:w"}, "b.example": {"auth": "dTpwOnc6eA=="}}}""");
        var store = new CredentialStore([file]);

        Assert.Equal(("u", "p:w"), (store.Find("a.example", "x")!.Username, store.Find("a.example", "x")!.Password));
        Assert.Equal(("u", "p:w:x"), (store.Find("b.example", "x")!.Username, store.Find("b.example", "x")!.Password));
    }

    [Fact]
    public void Malformed_entries_are_errors_naming_the_file()
    {
        var badBase64 = Write("bad64.json", """{"auths": {"a.example": {"auth": "***"}}}""");
        var noColon = Write("nocolon.json", """{"auths": {"a.example": {"auth": "bm9jb2xvbg=="}}}""");
        var notJson = Write("notjson.json", "{auths:");

        Assert.Contains(badBase64, Assert.Throws<ImageException>(() => new CredentialStore([badBase64]).Find("a.example", "x")).Message, StringComparison.Ordinal);
        Assert.Contains("USER:PASSWORD", Assert.Throws<ImageException>(() => new CredentialStore([noColon]).Find("a.example", "x")).Message, StringComparison.Ordinal);
        Assert.Contains(notJson, Assert.Throws<ImageException>(() => new CredentialStore([notJson]).Find("a.example", "x")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Files_without_auths_and_empty_entries_mean_anonymous()
    {
        var empty = Write("empty.json", """{"credsStore": "desktop"}""");
        var tokenOnly = Write("token.json", """{"auths": {"a.example": {"identitytoken": "abc"}}}""");

        Assert.Null(new CredentialStore([empty, tokenOnly]).Find("a.example", "x"));
    }

    private string Write(string name, string json)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, json);
        return path;
    }

    private static string Auths(params (string Key, string User, string Password)[] entries) =>
        "{\"auths\": {" + string.Join(", ", entries.Select(e =>
            $"\"{e.Key}\": {{\"auth\": \"{Convert.ToBase64String(Encoding.UTF8.GetBytes($"{e.User}:{e.Password}"))}\"}}")) + "}}";
}
