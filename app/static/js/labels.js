// The API's words in French: statuses, levels, filters and their choices, problem codes,
// zoning classes, criteria and their definitions, exclusions, values.

export const LABELS = {
  on_track: "dans la trajectoire",
  will_exceed: "dépassement projeté",
  exceeded: "enveloppe dépassée",
  no_data: "données manquantes",
  partial_data: "données partielles",
  planned: "prévu",
  listed: "listé (PENE)",
  authorised: "autorisé",
  under_construction: "en chantier",
  completed: "achevé",
  abandoned: "abandonné",
  industrial: "industriel",
  commercial: "commercial",
  logistics: "logistique",
  other: "autre",
};
export const LEVELS = {
  commune: "commune", epci: "EPCI", scot: "SCoT", departement: "département", region: "région",
  territoire_industrie: "Territoire d'industrie",
};
export const LEVEL_PARAM = {
  commune: "commune",
  epci: "epci",
  departement: "departement",
  territoire_industrie: "territoire_industrie",
};
export const FILTER_LABELS = {
  min_area: "Surface min. (ha)",
  max_area: "Surface max. (ha)",
  zoning: "Zonage PLU",
  exclude_zoning: "Exclure le zonage (zonage inconnu gardé)",
  on_friche: "Sur friche",
  min_score: "Score minimum",
  max_built_share: "Part bâtie maximale (0 à 1)",
  land_use: "Occupation du sol",
  owner: "Propriétaire",
  exclude_risk: "Exclure les zones des plans de risques (PPR, PPRT)",
  land_cover: "Espace NAF ou déjà artificialisé",
};
// The filters that take a comma-separated list: one checkbox per value, in French.
export const CHOICES = {
  land_use: {
    vacant: "vacante (aucun bâtiment)",
    underused: "sous-utilisée (peu ou légèrement bâtie)",
    built: "bâtie",
  },
  owner: {
    etat: "État", region: "région", departement: "département", commune: "commune", epci: "EPCI",
    etablissement_public: "établissement public (EPF…)", sem: "SEM ou SPL",
    personne_morale: "autre personne morale", private_or_unknown: "particulier ou inconnu",
  },
  exclude_risk: {
    interdiction: "zones d'interdiction",
    prescription: "zones de prescription",
  },
  land_cover: {
    naf: "espace agricole, naturel ou forestier (NAF)",
    artificialised: "friche ou terrain déjà artificialisé",
  },
};
// The same, short, for the columns of the results table.
export const LAND_USE_SHORT = { vacant: "vacante", underused: "sous-utilisée", built: "bâtie" };
export const OWNER_SHORT = {
  etat: "État", region: "région", departement: "département", commune: "commune", epci: "EPCI",
  etablissement_public: "établ. public", sem: "SEM ou SPL", personne_morale: "pers. morale",
  private_or_unknown: "particulier ou inconnu",
};
// The API's problem documents carry a stable "code" (app/api/errors.py): said in French here.
export const PROBLEMS = {
  invalid_parameter: "Paramètre invalide",
  invalid_request: "Demande invalide",
  invalid: "Demande impossible à traiter",
  unauthorized: "Jeton manquant, inconnu ou révoqué",
  denied: "Action non permise pour ce jeton (rôle ou territoire)",
  not_found: "Introuvable",
  method_not_allowed: "Action non disponible ici",
  conflict: "Conflit avec l'état actuel",
  too_large: "Demande trop volumineuse",
  too_many_requests: "Trop de demandes : réessayez dans un instant",
  query_timeout: "La recherche a pris trop de temps : restreignez-la (territoire plus petit, filtres)",
  unavailable: "Service momentanément indisponible : réessayez dans un instant",
  server_error: "Erreur du service",
};
export const ZONING = {
  activity: "activité", housing: "habitat", mixed: "mixte", agricultural: "agricole",
  natural: "naturel", other: "autre",
};

export const CRITERION_FR = {
  site_area: "surface", size_fit: "taille adaptée", compactness: "compacité", zoning: "zonage PLU",
  on_friche: "friche", in_economic_zone: "zone d'activité", activity_zone_distance: "distance zone d'activité",
  pollution: "pollution", slope: "pente", flood: "inondation", envelope_impact: "impact NAF",
  motorway_distance: "distance échangeur", rail_siding: "embranchement fer",
  risk_regulation: "plans de prévention", plu_prescriptions: "prescriptions PLU",
  land_use: "occupation (bâti)", public_owner: "propriétaire public",
};
// Each criterion's definition, in French (the API's label is its English twin).
export const DEFINITIONS = {
  site_area: "surface (méthode Mutafriches : moins de 1 ha très défavorable, 1 à 5 ha favorable, plus de 5 ha très favorable)",
  size_fit: "surface adaptée au profil recherché",
  compactness: "forme : indice de Polsby-Popper 4πA/P² (1 pour un disque ; les parcelles longues et étroites sont mal notées)",
  zoning: "classe de zonage du PLU",
  on_friche: "sur une friche (reconversion, sans artificialisation nouvelle)",
  in_economic_zone: "dans une zone d'activité (ZAE, zone commerciale, site clé en main)",
  activity_zone_distance: "distance à la zone d'activité la plus proche (site économique ou zone d'activité du PLU), 2000 valant 2 km ou plus ; inconnue là où aucune couche ne couvre le département (critère propre à Foncier)",
  pollution: "pollution des sols : avérée (BASOL, friche « avérée » ou « supposée ») ou écartée",
  slope: "pente moyenne en pourcentage (modèle numérique de terrain)",
  flood: "part de la parcelle en aléa inondation fort (classe 3 et plus) ; aucune part est neutre, comme « pas de risque inondation » chez Mutafriches",
  envelope_impact: "hectares NAF que la parcelle consommerait (0 sur une friche ou un sol déjà artificialisé)",
  risk_regulation: "plans de prévention des risques (PPR, PPRT) : la zone la plus stricte couvrant au moins 1 % de la parcelle ; inconnu hors du périmètre d'un plan chargé",
  plu_prescriptions: "prescriptions du PLU : interdiction de construire (espace boisé classé, emplacement réservé…) ou contrainte (patrimoine, paysage…) ; inconnu là où le PLU n'est pas chargé au standard CNIG",
  motorway_distance: "distance à un échangeur autoroutier (Mutafriches : moins de 1 km très favorable, 1 à 2 km favorable, 2 à 5 km défavorable, plus de 5 km très défavorable)",
  rail_siding: "embranchement ferroviaire sur le site ou à proximité",
  land_use: "occupation d'après l'emprise des bâtiments : vacante (aucun bâtiment), sous-utilisée (emprise bâtie sous 20 % ou bâti léger seulement), bâtie ; inconnue là où aucune couche de bâtiments ne couvre la commune",
  public_owner: "propriétaire (fichier des parcelles des personnes morales, DGFiP) : un terrain public se mobilise plus facilement ; commune, EPCI et établissements publics (EPF compris) très favorables, État, région, département et SEM favorables, autres neutres ; inconnu là où aucun fichier ne couvre la commune",
};
export const EXCLUSIONS_FR = {
  agricultural_or_natural_zoning: "zonage agricole ou naturel (hors friche)",
  high_flood_hazard: "la moitié de la parcelle ou plus en aléa inondation fort",
  risk_plan_interdiction: "la moitié de la parcelle ou plus en zone d'interdiction d'un plan de prévention des risques (PPR, PPRT)",
  plu_prescription_interdiction: "la moitié de la parcelle ou plus sous une prescription du PLU interdisant de construire",
  nature_reserve: "réserves naturelles (aucune couche chargée)",
  wetland: "zones humides (aucune couche chargée)",
};
// A criterion's value in French words where the API gives a code.
export const VALUES_FR = {
  ...ZONING, ...CHOICES.land_use, ...CHOICES.owner, known: "avérée", ruled_out: "écartée",
  interdiction: "interdiction", prescription: "prescription", none: "aucune", exclude: "interdit de construire",
  penalise: "contrainte", true: "oui", false: "non",
};
