using Kubefly.Fly;

namespace Kubefly.Tests.Unit.Fly;

public sealed class UserResolverTests
{
    private const string Passwd = "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\nuser:x:1000:1000::/home/user:/bin/sh\ndaemon:x:2:2::/:/bin/false\n";
    private const string Group = "root:x:0:\nwheel:x:10:user,daemon\nstaff:x:50:\nuser:x:1000:\nadm:x:4: daemon , user\n";

    private static string? Files(string path) => path switch
    {
        "/etc/passwd" => Passwd,
        "/etc/group" => Group,
        _ => null,
    };

    [Theory]
    [InlineData("user", null, 1000u, 1000u, new uint[] { 10, 4 })]
    [InlineData("1000", null, 1000u, 1000u, new uint[] { 10, 4 })]
    [InlineData("user:staff", null, 1000u, 50u, new uint[] { 10, 4 })]
    [InlineData("user:7", null, 1000u, 7u, new uint[] { 10, 4 })]
    [InlineData("daemon", "wheel", 2u, 10u, new uint[] { 10, 4 })]
    [InlineData("5000", null, 5000u, 0u, new uint[0])]
    [InlineData(null, null, 0u, 0u, new uint[0])]
    public void Resolves(string? user, string? group, uint uid, uint gid, uint[] groups)
    {
        var resolved = UserResolver.Resolve(user, group, Files);

        Assert.Equal((uid, gid), (resolved.Uid, resolved.Gid));
        Assert.Equal(groups, resolved.SupplementaryGroups);
    }

    [Fact]
    public void NumericUserAndGroupReadNoFile()
    {
        var resolved = UserResolver.Resolve("1234:5678", null, path => throw new InvalidOperationException("read " + path));

        Assert.Equal(new ResolvedUser(1234, 5678, []), resolved with { SupplementaryGroups = [] });
        Assert.Empty(resolved.SupplementaryGroups);
    }

    [Fact]
    public void NumericUserWithoutPasswdDefaultsToGroupZero() =>
        Assert.Equal((42u, 0u), UserResolver.Resolve("42", null, _ => null) is var r ? (r.Uid, r.Gid) : default);

    [Theory]
    [InlineData("ghost", null, "user \"ghost\" not found in the image's /etc/passwd")]
    [InlineData("user:ghosts", null, "group \"ghosts\" not found in the image's /etc/group")]
    [InlineData("user", "ghosts", "group \"ghosts\" not found")]
    [InlineData(":50", null, "expected NAME, UID, UID:GID or NAME:GROUP")]
    [InlineData("user:", null, "expected NAME, UID, UID:GID or NAME:GROUP")]
    public void ClearErrors(string user, string? group, string message) =>
        Assert.Contains(message, Assert.Throws<FlyException>(() => UserResolver.Resolve(user, group, Files)).Message, StringComparison.Ordinal);

    [Fact]
    public void ANameIsNotFoundWhenThereIsNoPasswd() =>
        Assert.Throws<FlyException>(() => UserResolver.Resolve("user", null, _ => null));
}
