using EfficientViT.ML.Tests.Training;
using EfficientViT.ML.Acceleration;
using System.Runtime.InteropServices;
using EfficientViT.ML.Training;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

[Collection(TorchGlobalStateCollection.Name)]
public class NativeHeapTests
{
    // glibc accepts the settings, and afterwards a 16 MiB tensor (above glibc's starting mmap threshold of
    // 128 KiB) comes from the heap: the bytes glibc holds in mmapped blocks do not grow by it, and the heap's
    // free space takes it back when the tensor is freed (at least half of it: the process's other threads
    // may allocate from it meanwhile; an unmapped block would add nothing). Process-wide state: run alone.
    [Fact]
    public void Serves_large_tensors_from_the_heap_and_keeps_them_when_freed()
    {
        Assert.True(OperatingSystem.IsLinux(), "these machines run Linux with glibc");
        Assert.True(NativeHeap.KeepFreedMemory());

        const long bytes = 16L << 20;
        var mappedBefore = MallocInfo().MappedBytes;
        var tensor = empty(bytes / sizeof(float));
        tensor.fill_(1f);
        var mappedWhileHeld = MallocInfo().MappedBytes;
        var freeBefore = MallocInfo().FreeHeapBytes;
        tensor.Dispose();
        var freeAfter = MallocInfo().FreeHeapBytes;

        Assert.True(mappedWhileHeld - mappedBefore < bytes, $"mmapped bytes grew by {mappedWhileHeld - mappedBefore} for a {bytes}-byte tensor");
        Assert.True(freeAfter - freeBefore >= bytes / 2, $"the heap's free bytes grew by {freeAfter - freeBefore} when a {bytes}-byte tensor was freed");
    }

    private static (long MappedBytes, long FreeHeapBytes) MallocInfo()
    {
        var info = mallinfo2();
        return ((long)info.hblkhd, (long)info.fordblks);
    }

    // struct mallinfo2 (malloc.h, glibc 2.33 and later).
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc")]
    private static extern MallInfo2 mallinfo2();
}
