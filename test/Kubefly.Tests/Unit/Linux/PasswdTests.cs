using Kubefly.Linux;

namespace Kubefly.Tests.Unit.Linux;

public sealed class PasswdTests
{
    private const string Users = "root:x:0:0::/root:/bin/bash\n# a comment:x:1:1\netcd:x:232:233::/:/sbin/nologin\r\nbroken:x:notanumber:1\nshort:x:5\nminus:x:4294967295:1\n:x:7:7\n";

    [Theory]
    [InlineData("etcd", "etcd", 232u, 233u)]
    [InlineData("232", "etcd", 232u, 233u)]
    [InlineData("500", "500", 500u, 500u)]
    [InlineData("root", "root", 0u, 0u)]
    public void A_user_is_found_by_name_or_uid_or_stands_for_itself(string user, string name, uint uid, uint gid) =>
        Assert.Equal(new PasswdEntry(name, uid, gid), Passwd.Find(Passwd.ParseUsers(Users), user));

    [Theory]
    [InlineData("missing")]
    [InlineData("broken")]
    [InlineData("short")]
    [InlineData("minus")]
    [InlineData("4294967295")]
    [InlineData("")]
    public void Malformed_lines_and_the_no_change_id_are_never_users(string user) =>
        Assert.Null(Passwd.Find(Passwd.ParseUsers(Users), user));

    [Fact]
    public void Comments_blank_lines_and_crlf_are_handled_as_libc_does()
    {
        var users = Passwd.ParseUsers(Users);

        Assert.Equal(["root", "etcd"], users.Select(u => u.Name));
    }

    [Fact]
    public void Groups_carry_their_members()
    {
        var groups = Passwd.ParseGroups("wheel:x:10:alice, bob\nempty:x:11:\nbad:x:x:alice\n");

        Assert.Equal(2, groups.Count);
        Assert.Equal(["alice", "bob"], groups[0].Members);
        Assert.Empty(groups[1].Members);
    }

    [Fact]
    public void A_missing_file_has_no_entries()
    {
        Assert.Empty(Passwd.ParseUsers(null));
        Assert.Empty(Passwd.ParseGroups(null));
    }
}
