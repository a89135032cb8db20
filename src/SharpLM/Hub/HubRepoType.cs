namespace SharpLM.Hub;

/// <summary>The kinds of Hub repository SharpLM reads: their URLs and cache folders differ.</summary>
public enum HubRepoType
{
    Model,
    Dataset,
}
