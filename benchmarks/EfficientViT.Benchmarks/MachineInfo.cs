using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace EfficientViT.Benchmarks;

/// <summary>The facts needed to compare numbers across machines, printed above the results.</summary>
internal static class MachineInfo
{
    public static IReadOnlyList<(string Name, string Value)> Collect() =>
    [
        ("Processor count", Environment.ProcessorCount.ToString()),
        ("CPU", EfficientViT.ML.MachineDescription.CpuModel() ?? "unknown"),
        ("OS", $"{RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})"),
        (".NET", RuntimeInformation.FrameworkDescription),
        ("TorchSharp", InformationalVersion(typeof(torch).Assembly)),
        // Read before the benchmark changes it: what libtorch would use for an application that does not choose.
        ("libtorch default threads", $"{torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op"),
        ("Build", IsReleaseBuild() ? "Release" : "Debug (managed code unoptimised; use -c Release)"),
        ("Started (UTC)", DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss")),
    ];

    private static string InformationalVersion(Assembly assembly)
    {
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "unknown";
        // Drop the "+commit" build metadata: the package version is what matters.
        var plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }

    private static bool IsReleaseBuild() =>
        Assembly.GetExecutingAssembly().GetCustomAttribute<System.Diagnostics.DebuggableAttribute>()?.IsJITOptimizerDisabled != true;
}
