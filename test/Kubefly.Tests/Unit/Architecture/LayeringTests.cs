using System.Reflection;
using System.Xml.Linq;
using Kubefly.Tests.Infrastructure;

namespace Kubefly.Tests.Unit.Architecture;

/// <summary>
/// The layering the README draws, kept true by the build: each assembly may use only the ones below it.
///
///   Cli ──► Wrappers ──► Fly ──► Oci, Linux
///    │                    ▲
///    └────► Pods ─────────┤
///                └──────► Images ──► Trust ──► Oci
///                             └────► Oci, Linux
///
/// Fly (the only code touching mounts, namespaces and exec) and Images never see each other; nothing
/// reaches upward. Both what the compiled code references and what the project files declare are checked.
/// </summary>
public sealed class LayeringTests
{
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Kubefly.Linux"] = [],
        ["Kubefly.Oci"] = [],
        ["Kubefly.Trust"] = ["Kubefly.Oci"],
        ["Kubefly.Fly"] = ["Kubefly.Oci", "Kubefly.Linux"],
        ["Kubefly.Images"] = ["Kubefly.Trust", "Kubefly.Oci", "Kubefly.Linux"],
        ["Kubefly.Pods"] = ["Kubefly.Fly", "Kubefly.Images", "Kubefly.Trust", "Kubefly.Oci", "Kubefly.Linux"],
        ["Kubefly.Wrappers"] = ["Kubefly.Fly", "Kubefly.Oci", "Kubefly.Linux"],
        ["Kubefly.Cli"] = ["Kubefly.Wrappers", "Kubefly.Pods", "Kubefly.Fly", "Kubefly.Images", "Kubefly.Trust", "Kubefly.Oci", "Kubefly.Linux"],
    };

    public static TheoryData<string> Assemblies() => [.. Allowed.Keys];

    [Theory]
    [MemberData(nameof(Assemblies))]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The test project is never trimmed.")]
    public void Compiled_code_uses_only_the_layers_below(string name)
    {
        // The command line's assembly is named after the binary.
        var used = Assembly.Load(name == "Kubefly.Cli" ? "kubefly" : name).GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(a => a.StartsWith("Kubefly.", StringComparison.Ordinal))
            .ToList();

        Assert.True(used.All(Allowed[name].Contains), $"{name} uses {string.Join(", ", used.Except(Allowed[name]))}, which the layering does not allow");
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Project_files_reference_only_the_layers_below(string name)
    {
        var project = XDocument.Load(Path.Combine(Checkout.Root, "src", name, name + ".csproj"));
        var referenced = project.Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value))
            .ToList();

        Assert.True(referenced.All(Allowed[name].Contains), $"{name}.csproj references {string.Join(", ", referenced.Except(Allowed[name]))}, which the layering does not allow");
    }

    [Fact]
    public void Every_source_project_is_in_the_diagram()
    {
        var projects = Directory.GetDirectories(Path.Combine(Checkout.Root, "src")).Select(Path.GetFileName).Order(StringComparer.Ordinal);

        Assert.Equal(Allowed.Keys.Order(StringComparer.Ordinal), projects);
    }
}
