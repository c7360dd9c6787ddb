using EfficientViT.ML.Data;
using TorchSharp;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Tests.Data;

public class ImageBatchLoaderTests
{
    private const int SampleCount = 23;

    private static InMemoryDataset Dataset(int failingIndex = -1) =>
        InMemoryDataset.WithLabels(Enumerable.Range(0, SampleCount).Select(i => i % 3).ToArray(), classes: 3, failingIndex: failingIndex);

    private static ImageTransform TrainTransform() =>
        new(new ImagePreprocessing(8, 0.875, [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]), train: true) { RandomErasing = 0.5 };

    /// <summary>Each batch's indices, images and labels as plain arrays (the tensors are disposed).</summary>
    private static List<(int[] Indices, float[] Images, long[] Labels)> Read(IEnumerable<ImageBatch> batches)
    {
        var result = new List<(int[], float[], long[])>();
        foreach (var batch in batches)
        {
            using (batch)
            {
                Assert.Equal([batch.Count, 3L, 8, 8], batch.Images.shape);
                Assert.Equal(torch.ScalarType.Int64, batch.Labels.dtype);
                result.Add((batch.Indices, batch.Images.data<float>().ToArray(), batch.Labels.data<long>().ToArray()));
            }
        }
        return result;
    }

    [Fact]
    public void The_same_seed_and_epoch_give_the_same_batches_with_one_or_two_workers()
    {
        var dataset = Dataset();
        using var one = new ImageBatchLoader(dataset, TrainTransform(), batchSize: 4, shuffle: true, seed: 7, workers: 1);
        using var two = new ImageBatchLoader(dataset, TrainTransform(), batchSize: 4, shuffle: true, seed: 7, workers: 2);

        var first = Read(one.Epoch(3));
        var second = Read(two.Epoch(3));

        Assert.Equal(6, first.Count);
        Assert.Equal(first.Select(b => b.Indices), second.Select(b => b.Indices));
        Assert.Equal(first.Select(b => b.Images), second.Select(b => b.Images));
        Assert.Equal(first.Select(b => b.Labels), second.Select(b => b.Labels));
        foreach (var (indices, _, labels) in first)
            Assert.Equal(indices.Select(i => (long)dataset.LabelOf(i)), labels);
    }

    [Fact]
    public void Each_epoch_visits_every_index_once_in_its_own_order()
    {
        using var loader = new ImageBatchLoader(Dataset(), TrainTransform(), batchSize: 5, shuffle: true, seed: 1, workers: 3);

        var epoch0 = Read(loader.Epoch(0)).SelectMany(b => b.Indices).ToArray();
        var epoch1 = Read(loader.Epoch(1)).SelectMany(b => b.Indices).ToArray();

        Assert.Equal(Enumerable.Range(0, SampleCount), epoch0.Order());
        Assert.Equal(Enumerable.Range(0, SampleCount), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);
        Assert.Equal(loader.EpochOrder(1), epoch1);
    }

    [Fact]
    public void Without_shuffle_the_order_is_the_data_set_order_and_drop_last_leaves_out_the_partial_batch()
    {
        var transform = new ImageTransform(new ImagePreprocessing(8, 0.875, [0.5f, 0.5f, 0.5f], [0.25f, 0.25f, 0.25f]), train: false);
        using var loader = new ImageBatchLoader(Dataset(), transform, batchSize: 5, shuffle: false, seed: 0, workers: 2, dropLast: true);

        var batches = Read(loader.Epoch(0));

        Assert.Equal(4, loader.BatchesPerEpoch);
        Assert.Equal(Enumerable.Range(0, 20), batches.SelectMany(b => b.Indices));
        Assert.All(batches, b => Assert.Equal(5, b.Indices.Length));
    }

    [Fact]
    public void Skipping_batches_gives_exactly_the_remaining_batches()
    {
        using var loader = new ImageBatchLoader(Dataset(), TrainTransform(), batchSize: 4, shuffle: true, seed: 9, workers: 2);

        var all = Read(loader.Epoch(2));
        var resumed = Read(loader.Epoch(2, skipBatches: 4));

        Assert.Equal(2, resumed.Count);
        Assert.Equal(all.Skip(4).Select(b => b.Indices), resumed.Select(b => b.Indices));
        Assert.Equal(all.Skip(4).Select(b => b.Images), resumed.Select(b => b.Images));
        Assert.Empty(Read(loader.Epoch(2, skipBatches: loader.BatchesPerEpoch)));
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.Epoch(2, skipBatches: 7));
    }

    [Fact]
    public void Batch_indices_count_from_the_start_of_the_epoch()
    {
        using var loader = new ImageBatchLoader(Dataset(), TrainTransform(), batchSize: 4, shuffle: true, seed: 9, workers: 2);
        var indices = new List<int>();
        foreach (var batch in loader.Epoch(0, skipBatches: 3))
        {
            indices.Add(batch.BatchIndex);
            batch.Dispose();
        }
        Assert.Equal([3, 4, 5], indices);
    }

    [Fact]
    public void A_failing_sample_surfaces_with_its_source_after_the_batches_before_it()
    {
        using var loader = new ImageBatchLoader(Dataset(failingIndex: 13), TrainTransform(), batchSize: 4, shuffle: false, seed: 0, workers: 2);
        var received = new List<int>();

        var error = Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var batch in loader.Epoch(0))
            {
                received.Add(batch.BatchIndex);
                batch.Dispose();
            }
        });

        Assert.Equal([0, 1, 2], received);
        Assert.Contains("data set index 13", error.Message);
        Assert.Contains("/data/broken-13.png", error.Message);
        Assert.IsType<InvalidDataException>(error.InnerException);
    }

    [Fact]
    public void A_corrupt_file_surfaces_with_its_path()
    {
        using var dir = new TempDirectory();
        DataTestImages.WriteSolidPng(dir.File(Path.Combine("a", "good.png")), 9, 9, 1, 2, 3);
        var bad = DataTestImages.WriteCorrupt(dir.File(Path.Combine("b", "bad.png")));
        var dataset = ImageFolderDataset.Load(dir.Path);
        using var loader = new ImageBatchLoader(dataset, TrainTransform(), batchSize: 2, shuffle: false, seed: 0, workers: 1);

        var error = Assert.Throws<InvalidOperationException>(() => Read(loader.Epoch(0)));
        Assert.Contains(bad, error.Message);
    }

    [Fact]
    public void Batch_tensors_belong_to_the_consumers_dispose_scope()
    {
        using var loader = new ImageBatchLoader(Dataset(), TrainTransform(), batchSize: 8, shuffle: true, seed: 2, workers: 2);
        var batches = new List<ImageBatch>();

        using (torch.NewDisposeScope())
        {
            foreach (var batch in loader.Epoch(0))
                batches.Add(batch);
            Assert.All(batches, b => Assert.False(b.Images.IsInvalid));
        }

        Assert.All(batches, b => Assert.True(b.Images.IsInvalid && b.Labels.IsInvalid));
    }

    [Fact]
    public void Leaving_an_epoch_early_stops_the_workers()
    {
        using var loader = new ImageBatchLoader(Dataset(), TrainTransform(), batchSize: 2, shuffle: true, seed: 2, workers: 2);

        using (var first = loader.Epoch(0).First())
            Assert.Equal(0, first.BatchIndex);

        // The loader is still usable for the next epoch.
        Assert.Equal(12, Read(loader.Epoch(1)).Count);
    }
}
