using EfficientViT.ML.Data;

namespace EfficientViT.ML.Tests.Data;

public class ClassSubsetDatasetTests
{
    [Fact]
    public void Keeps_the_named_classes_relabelled_in_the_given_order()
    {
        var full = InMemoryDataset.WithLabels([0, 1, 2, 3, 2, 0, 3], classes: 4);

        var subset = new ClassSubsetDataset(full, ["class3", "class0"]);

        Assert.Equal(["class3", "class0"], subset.ClassNames);
        Assert.Equal(4, subset.Count);
        // Samples 0, 3, 5, 6 of the full set, in order: labels 0, 3, 0, 3 become 1, 0, 1, 0.
        Assert.Equal([1, 0, 1, 0], Enumerable.Range(0, subset.Count).Select(subset.LabelOf));
        Assert.Equal([1, 0, 1, 0], Enumerable.Range(0, subset.Count).Select(i => subset.Get(i).Label));
        Assert.Equal(full.Get(3).Pixels, subset.Get(1).Pixels);
    }

    [Fact]
    public void Unknown_or_repeated_classes_are_refused_by_name()
    {
        var full = InMemoryDataset.WithLabels([0, 1], classes: 2);

        var unknown = Assert.Throws<ArgumentException>(() => new ClassSubsetDataset(full, ["class9"]));
        Assert.Contains("'class9'", unknown.Message);
        Assert.Throws<ArgumentException>(() => new ClassSubsetDataset(full, ["class1", "class1"]));
        Assert.Throws<ArgumentException>(() => new ClassSubsetDataset(full, []));
    }
}
