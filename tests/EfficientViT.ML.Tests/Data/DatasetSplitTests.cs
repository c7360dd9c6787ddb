using EfficientViT.ML.Data;

namespace EfficientViT.ML.Tests.Data;

public class DatasetSplitTests
{
    /// <summary>30 samples of class 0, 20 of class 1, 10 of class 2, interleaved.</summary>
    private static InMemoryDataset Unbalanced()
    {
        var labels = Enumerable.Range(0, 30).Select(_ => 0)
            .Concat(Enumerable.Range(0, 20).Select(_ => 1))
            .Concat(Enumerable.Range(0, 10).Select(_ => 2))
            .OrderBy(l => l * 7919 % 13)
            .ToArray();
        return InMemoryDataset.WithLabels(labels, classes: 3, width: 2, height: 2);
    }

    private static int[] Indices(IImageDataset subset) => ((SubsetDataset)subset).Indices.ToArray();

    private static int[] ClassCounts(IImageDataset dataset) =>
        Enumerable.Range(0, dataset.ClassNames.Count).Select(c => Enumerable.Range(0, dataset.Count).Count(i => dataset.LabelOf(i) == c)).ToArray();

    [Fact]
    public void Split_keeps_class_proportions_and_covers_every_sample_once()
    {
        var dataset = Unbalanced();

        var (train, validation) = DatasetSplit.Split(dataset, 0.2, seed: 5);

        Assert.Equal([6, 4, 2], ClassCounts(validation));
        Assert.Equal([24, 16, 8], ClassCounts(train));
        Assert.Equal(Enumerable.Range(0, dataset.Count), Indices(train).Concat(Indices(validation)).Order());
        Assert.Equal(dataset.ClassNames, train.ClassNames);
    }

    [Fact]
    public void Split_is_deterministic_for_a_seed()
    {
        var dataset = Unbalanced();

        var first = DatasetSplit.Split(dataset, 0.25, seed: 11);
        var again = DatasetSplit.Split(dataset, 0.25, seed: 11);
        var other = DatasetSplit.Split(dataset, 0.25, seed: 12);

        Assert.Equal(Indices(first.Validation), Indices(again.Validation));
        Assert.Equal(Indices(first.Train), Indices(again.Train));
        Assert.NotEqual(Indices(first.Validation), Indices(other.Validation));
    }

    [Fact]
    public void Take_keeps_up_to_n_per_class()
    {
        var dataset = Unbalanced();

        var small = DatasetSplit.Take(dataset, perClass: 15, seed: 3);

        Assert.Equal([15, 15, 10], ClassCounts(small));
        Assert.Equal(Indices(small), Indices(DatasetSplit.Take(dataset, 15, seed: 3)));
        Assert.Equal(dataset.Get(Indices(small)[4]).Pixels, small.Get(4).Pixels);
    }

    [Fact]
    public void Subset_rejects_indices_out_of_range()
    {
        var dataset = Unbalanced();
        Assert.Throws<ArgumentOutOfRangeException>(() => new SubsetDataset(dataset, [0, dataset.Count]));
    }
}
