using System.Collections.Concurrent;
using Kubefly.Images.Registry;

namespace Kubefly.Tests.Infrastructure.Registry;

/// <summary>
/// Makes <see cref="RegistryClient"/>s for loopback test registries: a registries.conf marking the given
/// hosts insecure (they speak plain http), fast retries, and a log the test can read.
/// </summary>
public sealed class RegistryClientFactory
{
    private readonly ConcurrentQueue<string> _log = new();

    public IReadOnlyList<string> Log => _log.ToArray();

    /// <summary>registries.conf text declaring each host insecure.</summary>
    public static string InsecureRegistriesConf(params string[] hosts) =>
        string.Concat(hosts.Select(h => $"[[registry]]\nlocation = \"{h}\"\ninsecure = true\n\n"));

    public RegistryClient Create(string registriesConf, CredentialStore? credentials = null, Func<RegistryClientOptions, RegistryClientOptions>? adjust = null)
    {
        var options = new RegistryClientOptions
        {
            RegistriesConf = RegistriesConf.Parse(registriesConf, "test-registries.conf"),
            Credentials = credentials ?? CredentialStore.None,
            Log = _log.Enqueue,
            RetryBaseDelay = TimeSpan.FromMilliseconds(20),
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
            RequestTimeout = TimeSpan.FromSeconds(30),
            ReadIdleTimeout = TimeSpan.FromSeconds(30),
        };
        return new RegistryClient(adjust is null ? options : adjust(options));
    }

    public RegistryClient CreateInsecure(params string[] hosts) => Create(InsecureRegistriesConf(hosts));
}
