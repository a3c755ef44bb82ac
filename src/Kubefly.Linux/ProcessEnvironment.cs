using System.Collections;

namespace Kubefly.Linux;

/// <summary>This process's environment as a dictionary, the form the pod and wrapper code take it in.</summary>
public static class ProcessEnvironment
{
    public static Dictionary<string, string> Snapshot()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = (string?)entry.Value ?? string.Empty;
        }

        return result;
    }
}
