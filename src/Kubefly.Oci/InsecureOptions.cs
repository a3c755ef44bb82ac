namespace Kubefly.Oci;

/// <summary>rkt's --insecure-options values.</summary>
[Flags]
public enum InsecureOptions
{
    None = 0,
    Http = 1,
    Image = 2,
    Tls = 4,
    Pubkey = 8,
    Capabilities = 16,
    Paths = 32,
    Seccomp = 64,
    AllFetch = Http | Image | Tls | Pubkey,
    AllRun = Capabilities | Paths | Seccomp,
    All = AllFetch | AllRun,
}

public static class InsecureOptionsParser
{
    public static InsecureOptions Parse(string list)
    {
        var result = InsecureOptions.None;
        foreach (var raw in list.Split(','))
        {
            var word = raw.Trim();
            result |= word switch
            {
                "" or "none" => InsecureOptions.None,
                "http" => InsecureOptions.Http,
                "image" => InsecureOptions.Image,
                "tls" => InsecureOptions.Tls,
                "pubkey" => InsecureOptions.Pubkey,
                "capabilities" => InsecureOptions.Capabilities,
                "paths" => InsecureOptions.Paths,
                "seccomp" => InsecureOptions.Seccomp,
                "all-fetch" => InsecureOptions.AllFetch,
                "all-run" => InsecureOptions.AllRun,
                "all" => InsecureOptions.All,
                _ => throw new InvalidValueException(
                    $"unknown --insecure-options value \"{UntrustedText.Printable(word)}\" (allowed: none,http,image,tls,pubkey,capabilities,paths,seccomp,all-fetch,all-run,all)"),
            };
        }

        return result;
    }
}
