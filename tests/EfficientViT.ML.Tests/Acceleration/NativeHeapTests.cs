using EfficientViT.ML.Tests.Training;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
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

    // A training step's garbage (TorchSharp objects whose finalizers free native memory) is collected when the step ends
    // (StepGarbage). Left to .NET's own collections, which came many steps apart, it stayed in the C heap between the
    // steps' activations and the heap grew step after step (here from 204 to 270 MiB; with the collection 205 to 209).
    [Fact]
    public void Training_steps_keep_the_heap_at_the_size_the_first_steps_gave_it()
    {
        Assert.True(OperatingSystem.IsLinux(), "these machines run Linux with glibc");
        using var speed = new TrainingSpeed(EfficientVitVariant.M0, imageSize: 64, batch: 32);
        speed.Measure(TimeSpan.Zero, minimumSteps: 10, warmupSteps: 0);
        var afterTen = MallocInfo().HeldBytes;
        speed.Measure(TimeSpan.Zero, minimumSteps: 60, warmupSteps: 0);
        var afterSeventy = MallocInfo().HeldBytes;

        Assert.True(afterSeventy - afterTen < 16L << 20,
            $"the C heap held {afterTen >> 20} MiB after 10 training steps and {afterSeventy >> 20} MiB after 70");
    }

    // Bytes in mmapped blocks, bytes free in the heap, and all the bytes malloc holds from the system.
    private static (long MappedBytes, long FreeHeapBytes, long HeldBytes) MallocInfo()
    {
        var info = mallinfo2();
        return ((long)info.hblkhd, (long)info.fordblks, (long)(info.arena + info.hblkhd));
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
