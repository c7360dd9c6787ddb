using System.Runtime.InteropServices;
using System.Text;
using EfficientViT.ML;

namespace EfficientViT.Training;

/// <summary>
/// Starts the command line over, same process, arguments and environment, with tcmalloc preloaded
/// (<see cref="NativeAllocator"/>: training ran faster with it, docs/guide/performance.md). A malloc can only be chosen
/// before the process starts, so this is done first thing, before any other library is loaded.
/// <c>EFFICIENTVIT_MALLOC=system</c> keeps the C library's malloc.
/// </summary>
internal static class TcmallocRestart
{
    /// <summary>The setting: "system" (or "glibc") keeps the C library's malloc.</summary>
    public const string ChoiceVariable = "EFFICIENTVIT_MALLOC";

    // Set in the restarted process: if the preload did not take (the loader ignores a library it cannot load), it is not tried twice.
    private const string RestartedVariable = "EFFICIENTVIT_MALLOC_RESTARTED";

    /// <summary>Replaces this process with itself under tcmalloc when that helps and is possible; otherwise returns.</summary>
    public static void IfAvailable()
    {
        if (!OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable(ChoiceVariable) is { } choice && (choice.Equals("system", StringComparison.OrdinalIgnoreCase) || choice.Equals("glibc", StringComparison.OrdinalIgnoreCase))
            || Environment.GetEnvironmentVariable(RestartedVariable) is not null
            || NativeAllocator.Current() != "glibc"
            || NativeAllocator.FindTcmalloc() is not { } library)
            return;
        string[] arguments;
        try
        {
            // Each argument ends in a NUL; an empty argument is kept (only the split's empty tail is dropped).
            arguments = Encoding.UTF8.GetString(File.ReadAllBytes("/proc/self/cmdline")).Split('\0')[..^1];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        if (arguments.Length == 0)
            return;
        // On success execve does not return; on failure this process simply goes on with the C library's malloc.
        execve("/proc/self/exe", [.. arguments, null], [.. EnvironmentWithPreload(library), null]);
    }

    private static IEnumerable<string> EnvironmentWithPreload(string library)
    {
        var variables = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        variables["LD_PRELOAD"] = variables.TryGetValue("LD_PRELOAD", out var preloaded) && preloaded.Length > 0 ? $"{library}:{preloaded}" : library;
        // tcmalloc reports every allocation above 1 GiB on stderr by default; such tensors are expected here.
        variables.TryAdd("TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD", (1L << 40).ToString(System.Globalization.CultureInfo.InvariantCulture));
        variables[RestartedVariable] = "1";
        return variables.Select(v => $"{v.Key}={v.Value}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int execve(string path, string?[] argv, string?[] envp);
}
