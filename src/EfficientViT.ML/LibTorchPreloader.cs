using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EfficientViT.ML;

/// <summary>
/// Loads the libtorch that this library's TorchSharp was built for, by absolute path, before TorchSharp
/// loads its native glue (Linux x64).
/// </summary>
/// <remarks>
/// TorchSharp's <c>libLibTorchSharp.so</c> asks the dynamic loader for <c>libtorch.so</c>, <c>libc10.so</c>
/// and <c>libtorch_cpu.so</c> by name. Another libtorch found first by that name (Debian's python3-torch on
/// the system path when the package's files are not beside TorchSharp, as in a notebook; a PyTorch folder
/// in <c>LD_LIBRARY_PATH</c>, which comes before every other place) is taken instead, and TorchSharp fails
/// with "undefined symbol". A library already loaded is reused for a later request of its name (its soname),
/// so loading the right files first, by path, decides which libtorch the process uses.
/// Runs once, when the process first uses a type of this assembly; it does nothing where it finds no
/// libtorch package files, and leaves any failure to TorchSharp's own loader, which reports it in full.
/// </remarks>
internal static class LibTorchPreloader
{
    /// <summary>The native package whose files are looked for, and its version (recorded at build time from the central package versions).</summary>
    internal const string PackageId = "libtorch-cpu-linux-x64";

    // Each needs the ones before it: loading them in this order binds every dependency to the same folder.
    private static readonly string[] Libraries = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    /// <summary>The folder the libtorch libraries were loaded from, or null when none was (not Linux x64, no package files found, or a load failed).</summary>
    internal static string? LoadedFrom { get; private set; }

#pragma warning disable CA2255 // A library's module initializer is the only point that runs before a notebook's first TorchSharp call through this library.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Preload()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return;
        if (Environment.GetEnvironmentVariable("EFFICIENTVIT_NO_LIBTORCH_PRELOAD") == "1")
            return;
        var folder = FindNativeFolder();
        if (folder is null)
            return;
        foreach (var library in Libraries)
        {
            if (!NativeLibrary.TryLoad(Path.Combine(folder, library), out _))
                return;
        }
        LoadedFrom = folder;
    }

    /// <summary>The first folder holding every libtorch library: beside the application, then the NuGet package cache.</summary>
    internal static string? FindNativeFolder() => Candidates().FirstOrDefault(HasLibraries);

    private static IEnumerable<string> Candidates()
    {
        // A built or published application: the package's files are copied beside it.
        var app = AppContext.BaseDirectory;
        yield return Path.Combine(app, "runtimes", "linux-x64", "native");
        yield return app;

        // A notebook or script: assemblies run from the NuGet cache, and so do the package's files. A built
        // application that has no libtorch beside it did not reference the package: it only loads zips or ONNX
        // graphs, and loading libtorch from the cache would cost it time and memory for nothing.
        if (RunsFromApplicationFolder())
            yield break;
        var version = typeof(LibTorchPreloader).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "LibTorchVersion")?.Value;
        if (string.IsNullOrEmpty(version))
            yield break;
        foreach (var packages in PackageFolders())
            yield return Path.Combine(packages, PackageId, version, "runtimes", "linux-x64", "native");
    }

    private static bool RunsFromApplicationFolder()
    {
        var here = Path.GetDirectoryName(typeof(LibTorchPreloader).Assembly.Location);
        return !string.IsNullOrEmpty(here)
            && string.Equals(Path.GetFullPath(here).TrimEnd(Path.DirectorySeparatorChar), Path.GetFullPath(AppContext.BaseDirectory).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);
    }

    private static IEnumerable<string> PackageFolders()
    {
        // This assembly in the cache is <packages>/efficientvit.ml/<version>/lib/<framework>/EfficientViT.ML.dll.
        var here = Path.GetDirectoryName(typeof(LibTorchPreloader).Assembly.Location);
        if (!string.IsNullOrEmpty(here))
            yield return Path.GetFullPath(Path.Combine(here, "..", "..", "..", ".."));
        var configured = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (!string.IsNullOrEmpty(configured))
            yield return configured;
        yield return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
    }

    private static bool HasLibraries(string folder) => Libraries.All(library => File.Exists(Path.Combine(folder, library)));
}
