using System.Runtime.InteropServices;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// The thread count of the calling thread's next parallel regions in the OpenMP runtime libtorch runs on
/// (Linux: the libgomp its package ships). libtorch's CPU kernels and oneDNN read it at every operation
/// (<c>omp_get_max_threads</c>), so setting it here changes the threads of the operations that follow, on this
/// thread only, for the cost of a function call. <c>torch.set_num_threads</c> also resizes libtorch's other
/// thread pools and MKL's, which cost about what a small operation saves when done around it.
/// Elsewhere (Windows, macOS), or if the runtime is not found, <see cref="Available"/> is false and nothing changes.
/// </summary>
internal static class LibTorchOpenMp
{
    private static readonly Lazy<Functions?> Runtime = new(Bind);

    /// <summary>Whether libtorch's OpenMP runtime was found.</summary>
    public static bool Available => Runtime.Value is not null;

    /// <summary>The calling thread's OpenMP thread count (<c>omp_get_max_threads</c>), or 0 when not <see cref="Available"/>.</summary>
    public static int MaxThreads => Runtime.Value?.Get() ?? 0;

    /// <summary>Sets the calling thread's OpenMP thread count (<c>omp_set_num_threads</c>); nothing when not <see cref="Available"/>.</summary>
    public static void SetThreads(int threads)
    {
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "The thread count must be at least 1.");
        Runtime.Value?.Set(threads);
    }

    private sealed record Functions(SetNumThreads Set, GetMaxThreads Get);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate void SetNumThreads(int threads);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int GetMaxThreads();

    // The functions are looked up through libtorch_cpu.so's handle, so the dynamic loader resolves them in that
    // library's own dependencies: the OpenMP runtime libtorch calls, not another libgomp the process may hold.
    private static Functions? Bind()
    {
        // libtorch is mapped once TorchSharp has started; nothing is found where the mappings cannot be read (not Linux).
        var libtorch = MappedFiles.Paths().FirstOrDefault(path => path.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal));
        if (libtorch is null || !NativeLibrary.TryLoad(libtorch, out var handle))
            return null;
        if (!NativeLibrary.TryGetExport(handle, "omp_set_num_threads", out var set)
            || !NativeLibrary.TryGetExport(handle, "omp_get_max_threads", out var get))
            return null;
        return new Functions(Marshal.GetDelegateForFunctionPointer<SetNumThreads>(set), Marshal.GetDelegateForFunctionPointer<GetMaxThreads>(get));
    }
}
