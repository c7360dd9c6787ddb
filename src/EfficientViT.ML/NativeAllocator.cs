namespace EfficientViT.ML;

/// <summary>
/// The malloc that serves libtorch. Every operation's output tensor is a fresh malloc, thousands per training
/// step; gperftools' tcmalloc serves them from per-size free lists where glibc's malloc searches and splits its
/// bins (a fifth of the single-threaded part of an M0 step at 112x112 went to glibc's malloc and free). The
/// <c>efficientvit</c> command line starts itself over with tcmalloc preloaded where Debian's
/// <c>libtcmalloc-minimal4</c> is installed; an application of your own gets it with <c>LD_PRELOAD</c>
/// (docs/guide/performance.md).
/// </summary>
internal static class NativeAllocator
{
    // The mallocs told apart by name in /proc/self/maps; any other Linux process runs on glibc's.
    private static readonly string[] ReplacementMallocs = ["tcmalloc", "jemalloc", "mimalloc"];

    /// <summary>Where Debian and Ubuntu's <c>libtcmalloc-minimal4</c> (and Fedora's gperftools-libs) install tcmalloc.</summary>
    public static IReadOnlyList<string> TcmallocPaths { get; } =
    [
        "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
        "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
        "/usr/lib64/libtcmalloc_minimal.so.4",
    ];

    /// <summary>The first of <see cref="TcmallocPaths"/> that exists, or null.</summary>
    public static string? FindTcmalloc() => TcmallocPaths.FirstOrDefault(File.Exists);

    /// <summary>
    /// "tcmalloc", "jemalloc" or "mimalloc" when that library is mapped into this process (Linux, from
    /// /proc/self/maps), else "glibc" on Linux and "system" elsewhere.
    /// </summary>
    public static string Current()
    {
        if (!MappedFiles.Readable)
            return "system";
        foreach (var file in MappedFiles.Paths().Select(Path.GetFileName))
            foreach (var name in ReplacementMallocs)
                if (file!.StartsWith("lib" + name, StringComparison.Ordinal))
                    return name;
        return "glibc";
    }
}
