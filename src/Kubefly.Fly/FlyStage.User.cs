namespace Kubefly.Fly;

public static partial class FlyStage
{
    /// <summary>--user/--group against the image's /etc/passwd and /etc/group, read safely in-root.</summary>
    private static ResolvedUser ResolveUser(RootDirectory root, FlyPlan plan)
    {
        try
        {
            return UserResolver.Resolve(plan.User, plan.Group, path => root.ReadSmallRegularFile(path, RootDirectory.MaxDatabaseFileSize));
        }
        catch (Exception e) when (e is FlyException or IOException)
        {
            throw new FlyException($"fly: user {plan.User ?? "0"}{(plan.Group is null ? string.Empty : " group " + plan.Group)}: {e.Message}", e);
        }
    }
}
